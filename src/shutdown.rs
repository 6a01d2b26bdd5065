//! Stopping cleanly: on SIGTERM (or Ctrl-C) the app stops accepting, reports itself not ready,
//! lets requests in flight finish within the shutdown timeout, and ends a download still
//! running then with its `# ERROR` line, so nobody is left with a file that looks whole but is
//! not. A second signal stops at once.

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use tokio::sync::watch;
use uuid::Uuid;

/// Where the process is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Phase {
    Running,
    /// A stop was asked for: no new connections, requests in flight finish.
    Draining,
    /// The shutdown timeout is up: downloads end now.
    Ending,
}

/// The stop sequence, shared (as `web::Data`) with what must react to it.
#[derive(Debug, Clone)]
pub(crate) struct Shutdown {
    phase: watch::Sender<Phase>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self {
            phase: watch::Sender::new(Phase::Running),
        }
    }
}

/// The last line of a download the shutdown cut short, in the connectors' `# ERROR` format.
pub(crate) const SHUTDOWN_LINE: &str =
    "# ERROR: the export stopped early: the server is shutting down; download the file again\n";

impl Shutdown {
    pub(crate) fn phase(&self) -> Phase {
        *self.phase.borrow()
    }

    pub(crate) fn advance(&self, to: Phase) {
        self.phase.send_if_modified(|phase| {
            let later = to > *phase;
            if later {
                *phase = to;
            }
            later
        });
    }

    /// Resolves once the shutdown timeout is up.
    async fn ending(mut phase: watch::Receiver<Phase>) {
        // An error means the sender is gone, i.e. the app itself: nothing left to wait for.
        let _ = phase.wait_for(|phase| *phase == Phase::Ending).await;
    }

    /// The CSV of a Download CSV, ended with [`SHUTDOWN_LINE`] if the app must stop before it
    /// is complete. Chunks are whole lines, so the file is cut between two rows. The run is
    /// counted in the metrics when it ends, however it ends.
    pub(crate) fn guard_download(
        &self,
        csv: impl Stream<Item = Bytes> + Send + Unpin + 'static,
        export: ExportRun,
    ) -> impl Stream<Item = Bytes> + Send + 'static {
        struct Running<S> {
            csv: S,
            phase: watch::Receiver<Phase>,
            export: ExportRun,
            done: bool,
        }
        let state = Running {
            csv,
            phase: self.phase.subscribe(),
            export,
            done: false,
        };
        futures_util::stream::unfold(state, |mut state| async move {
            if state.done {
                return None;
            }
            let ending = Self::ending(state.phase.clone());
            tokio::select! {
                biased;
                () = ending => {
                    state.done = true;
                    state.export.finish("shutdown");
                    Some((Bytes::from_static(SHUTDOWN_LINE.as_bytes()), state))
                }
                chunk = state.csv.next() => match chunk {
                    Some(chunk) => {
                        // The connectors end a failed export with an `# ERROR` line.
                        if chunk.starts_with(b"# ERROR") {
                            state.export.failed = true;
                        }
                        Some((chunk, state))
                    }
                    None => {
                        let outcome = if state.export.failed { "error" } else { "success" };
                        state.export.finish(outcome);
                        None
                    }
                },
            }
        })
    }
}

/// One Download CSV, for the metrics.
pub(crate) struct ExportRun {
    connector: String,
    agent_id: Uuid,
    started: Instant,
    failed: bool,
    recorded: bool,
}

impl ExportRun {
    pub(crate) fn new(connector: &str, agent_id: Uuid) -> Self {
        Self {
            connector: connector.to_string(),
            agent_id,
            started: Instant::now(),
            failed: false,
            recorded: false,
        }
    }

    fn finish(&mut self, outcome: &str) {
        if !self.recorded {
            self.recorded = true;
            crate::telemetry::record_test(
                "export",
                &self.connector,
                self.agent_id,
                outcome,
                self.started.elapsed(),
            );
        }
    }
}

impl Drop for ExportRun {
    /// Dropped unfinished: the person closed the download.
    fn drop(&mut self) {
        self.finish("abandoned");
    }
}

/// Resolves on the first SIGTERM or SIGINT.
pub(crate) async fn signalled() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        // Without signal handlers there is nothing to wait for; the default action applies.
        std::future::pending::<()>().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: stopping"),
        _ = int.recv() => tracing::info!("SIGINT: stopping"),
    }
}

/// Time for downloads, once ended, to send their last line before connections are closed.
pub(crate) const LAST_LINE_GRACE: Duration = Duration::from_secs(1);

#[cfg(test)]
mod tests {
    use super::*;

    fn rows() -> impl Stream<Item = Bytes> + Send + Unpin + 'static {
        futures_util::stream::iter([Bytes::from_static(b"id\n"), Bytes::from_static(b"1\n")])
            .chain(futures_util::stream::pending())
            .boxed()
    }

    #[tokio::test]
    async fn a_download_still_running_at_the_end_gets_the_error_line() {
        let shutdown = Shutdown::default();
        let mut download =
            Box::pin(shutdown.guard_download(rows(), ExportRun::new("hasoffers", Uuid::nil())));
        assert_eq!(download.next().await.unwrap(), "id\n");
        assert_eq!(download.next().await.unwrap(), "1\n");
        shutdown.advance(Phase::Draining);
        // Draining alone lets the download go on.
        let waited = tokio::time::timeout(Duration::from_millis(50), download.next()).await;
        assert!(waited.is_err(), "still running while draining");
        shutdown.advance(Phase::Ending);
        assert_eq!(download.next().await.unwrap(), SHUTDOWN_LINE);
        assert!(download.next().await.is_none(), "and then the file ends");
    }

    #[tokio::test]
    async fn a_download_that_completes_is_left_alone() {
        let shutdown = Shutdown::default();
        let csv = futures_util::stream::iter([Bytes::from_static(b"id\n")]);
        let all: Vec<Bytes> = shutdown
            .guard_download(csv, ExportRun::new("hasoffers", Uuid::nil()))
            .collect()
            .await;
        assert_eq!(all, vec![Bytes::from_static(b"id\n")]);
    }

    #[test]
    fn the_phase_only_moves_forward() {
        let shutdown = Shutdown::default();
        shutdown.advance(Phase::Ending);
        shutdown.advance(Phase::Draining);
        assert_eq!(shutdown.phase(), Phase::Ending);
    }
}
