//! Report dates: `data_start`/`data_end` from the date filter, and the conversion window.
//!
//! TUNE's `data_start`/`data_end` do not filter: with `hour_offset` they shift the report's
//! time zone, and they should match the `Stat.date` filter (`Stat.datetime` on the
//! conversion report) — reference §4.2 and §24, developers.tune.com report-getstats and
//! affiliate_report-getconversions. So a date filter fills them: `BETWEEN a AND b` gives
//! `a`/`b`, `= d` gives `d`/`d` (the date part of a datetime). The conversion report keeps
//! 25 months (762 days) of data, so a longer range is refused rather than silently cut.

use super::Cx;
use super::conditions::{Cond, Pred};
use super::from::Call;
use crate::hasoffers::query::QueryError;

/// Days of data the conversion report keeps (developers.tune.com report-getconversions).
const CONVERSIONS_WINDOW_DAYS: i64 = 762;

impl Cx<'_> {
    /// `(data_start, data_end)` from the first date filter, if any.
    pub(super) fn date_range(
        &self,
        preds: &[Pred],
        call: Call,
    ) -> Result<Option<(String, String)>, QueryError> {
        let date_fields: &[&str] = match call {
            Call::Conversions => &["Stat.date", "Stat.datetime"],
            _ => &["Stat.date"],
        };
        let Some(pred) = preds
            .iter()
            .find(|p| date_fields.contains(&p.field.as_str()))
        else {
            return Ok(None);
        };
        let (lo, hi) = match &pred.cond {
            Cond::Between(lo, hi) => (lo, hi),
            Cond::Eq(day) => (day, day),
            Cond::In(days) if days.len() == 1 => (&days[0], &days[0]),
            _ => return Ok(None),
        };
        let date = |text: &str| {
            let day = text.get(..10).filter(|d| days_of(d).is_some());
            day.map(str::to_string).ok_or_else(|| {
                QueryError::refuse(
                    "date",
                    format!(
                        "`{text}` is not a date: {} takes dates written YYYY-MM-DD, e.g. '2024-01-31'",
                        pred.field
                    ),
                    pred.pos,
                )
            })
        };
        let (start, end) = (date(lo)?, date(hi)?);
        if call == Call::Conversions {
            // Both ends count: 2024-01-01 to 2024-01-01 is one day.
            let days = days_of(&end).zip(days_of(&start)).map(|(e, s)| e - s + 1);
            if let Some(days) = days.filter(|d| *d > CONVERSIONS_WINDOW_DAYS) {
                return Err(QueryError::refuse(
                    "date range",
                    format!(
                        "The conversion report keeps 25 months ({CONVERSIONS_WINDOW_DAYS} days) of data, and {start} to {end} is {days} days: narrow the range"
                    ),
                    pred.pos,
                ));
            }
        }
        Ok(Some((start, end)))
    }
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` date, `None` when it is no calendar date.
fn days_of(date: &str) -> Option<i64> {
    let mut parts = date.splitn(3, '-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    let (y, m, d): (i64, i64, i64) = (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&m) || d < 1 || d > month_days[(m - 1) as usize] {
        return None;
    }
    // Days from civil (H. Hinnant's algorithm), so no date crate is needed.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_dates_count_days() {
        assert_eq!(days_of("1970-01-01"), Some(0));
        assert_eq!(days_of("2024-01-01"), Some(19_723));
        assert_eq!(
            days_of("2024-03-01")
                .zip(days_of("2024-02-28"))
                .map(|(a, b)| a - b),
            Some(2)
        );
        assert_eq!(days_of("2023-02-29"), None, "not a leap year");
        assert_eq!(days_of("2024-13-01"), None);
        assert_eq!(days_of("24-01-01"), None);
        assert_eq!(days_of("yesterday"), None);
    }
}
