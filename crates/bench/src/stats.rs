//! What one load run measured, and the medians over several runs.

use std::time::Duration;

/// One `wrk` run: responses and latency percentiles (closed loop, keep-alive connections).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Sample {
    /// 2xx/3xx responses (the checks before each figure make sure they are the page asked for).
    pub ok: u64,
    /// Responses of 400 and above, plus connect, read, write errors and timeouts.
    pub errors: u64,
    /// Length of the run.
    pub secs: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Sample {
    /// Successful responses per second: fast error pages must not look like throughput.
    pub(crate) fn per_second(&self) -> f64 {
        if self.secs > 0.0 {
            self.ok as f64 / self.secs
        } else {
            0.0
        }
    }

    /// The median of every field over `runs`, each field on its own (so the median p99 may
    /// come from another run than the median throughput).
    pub(crate) fn median(runs: &[Sample]) -> Sample {
        let of = |field: fn(&Sample) -> f64| median(&runs.iter().map(field).collect::<Vec<_>>());
        Sample {
            ok: of(|s| s.ok as f64).round() as u64,
            // Errors are summed: one failed request in any run is worth showing.
            errors: runs.iter().map(|s| s.errors).sum(),
            secs: of(|s| s.secs),
            p50_ms: of(|s| s.p50_ms),
            p90_ms: of(|s| s.p90_ms),
            p99_ms: of(|s| s.p99_ms),
            max_ms: of(|s| s.max_ms),
        }
    }
}

/// The median of `values` (the mean of the middle two for an even count); NaN when empty.
pub(crate) fn median(values: &[f64]) -> f64 {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    }
}

pub(crate) fn median_duration(values: &[Duration]) -> Duration {
    let secs: Vec<f64> = values.iter().map(Duration::as_secs_f64).collect();
    Duration::from_secs_f64(median(&secs).max(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(ok: u64, errors: u64, p50: f64, p99: f64) -> Sample {
        Sample {
            ok,
            errors,
            secs: 5.0,
            p50_ms: p50,
            p90_ms: p50,
            p99_ms: p99,
            max_ms: p99,
        }
    }

    #[test]
    fn medians_take_each_field_on_its_own_and_sum_the_errors() {
        let runs = [
            sample(1000, 0, 1.0, 9.0),
            sample(3000, 2, 3.0, 5.0),
            sample(2000, 1, 2.0, 7.0),
        ];
        let median = Sample::median(&runs);
        assert_eq!(median.ok, 2000);
        assert_eq!(median.errors, 3, "errors of every run count");
        assert_eq!(median.p50_ms, 2.0);
        assert_eq!(median.p99_ms, 7.0);
        assert_eq!(median.per_second(), 400.0);
    }

    #[test]
    fn median_handles_even_odd_and_empty_inputs() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
        assert_eq!(median(&[f64::NAN, 5.0]), 5.0, "a missing value is left out");
    }
}
