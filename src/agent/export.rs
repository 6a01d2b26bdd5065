//! A download on the agent: the connector's CSV, cut into chunks the server stores one a row,
//! each sent before the next page is asked of the target, so neither side holds more than a few
//! chunks whatever the size of the file.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use junction_connectors::{ConnectionSettings, Connector};
use uuid::Uuid;

use super::Shared;
use super::client::CallError;
use super::protocol::{JobResult, MAX_CHUNK_BYTES};

/// Failed calls in a row after which a chunk is given up (the server is away): the lease then
/// ends and the person's download ends with its `# ERROR` line.
const ATTEMPTS: u32 = 8;

/// Why the chunks stopped before the end.
enum Stopped {
    /// The server no longer wants the job (cancelled, or handed on).
    Gone,
    /// The server stayed away.
    Unreachable,
}

/// Runs the export of `query` and sends its chunks for job `id`; the `Exported` result to
/// send, or `None` when the job is to be dropped.
pub(super) async fn run(
    shared: &Shared,
    id: Uuid,
    lease_token: Uuid,
    connector: &dyn Connector,
    settings: ConnectionSettings,
    query: String,
) -> Option<JobResult> {
    let size = shared.welcome.chunk_bytes.clamp(1024, MAX_CHUNK_BYTES);
    let mut csv = connector.export_csv(settings, query);
    let mut chunker = Chunker::new(size);
    let mut ready = Vec::new();
    let mut seq = 0u32;
    let outcome = async {
        while let Some(piece) = csv.next().await {
            // The `# ERROR` line goes alone, as the server's own export sends it.
            let error = piece.starts_with(b"# ERROR");
            if error {
                ready.extend(chunker.flush());
            }
            chunker.push(&piece, &mut ready);
            if error {
                ready.extend(chunker.flush());
            }
            for data in ready.drain(..) {
                send_chunk(shared, id, lease_token, seq, data).await?;
                seq += 1;
            }
        }
        if let Some(data) = chunker.flush() {
            send_chunk(shared, id, lease_token, seq, data).await?;
            seq += 1;
        }
        Ok::<_, Stopped>(())
    }
    .await;
    match outcome {
        Ok(()) => Some(JobResult::Exported { chunks: seq }),
        Err(Stopped::Gone) => {
            tracing::info!(job.id = %id, "download stopped: the server no longer wants it");
            None
        }
        Err(Stopped::Unreachable) => {
            tracing::warn!(job.id = %id, "download stopped: the server could not take its chunks");
            None
        }
    }
}

/// Cuts the CSV into chunks of at most `size` bytes, each ending with a whole row when one fits
/// (a newline outside quotes), so a download cut short never ends with half a row before its
/// `# ERROR` line.
struct Chunker {
    size: usize,
    buffer: BytesMut,
    in_quotes: bool,
    /// The bytes of `buffer` up to the end of its last whole row.
    row_end: usize,
}

impl Chunker {
    fn new(size: usize) -> Self {
        Self {
            size,
            buffer: BytesMut::with_capacity(size),
            in_quotes: false,
            row_end: 0,
        }
    }

    /// Adds `piece`, moving each chunk it fills to `ready`.
    fn push(&mut self, mut piece: &[u8], ready: &mut Vec<Bytes>) {
        while !piece.is_empty() {
            let take = (self.size - self.buffer.len()).min(piece.len());
            for (at, byte) in piece[..take].iter().enumerate() {
                match byte {
                    b'"' => self.in_quotes = !self.in_quotes,
                    b'\n' if !self.in_quotes => self.row_end = self.buffer.len() + at + 1,
                    _ => {}
                }
            }
            self.buffer.extend_from_slice(&piece[..take]);
            piece = &piece[take..];
            if self.buffer.len() == self.size {
                // A row longer than a chunk is cut where the chunk ends.
                let cut = if self.row_end > 0 {
                    self.row_end
                } else {
                    self.size
                };
                ready.push(self.buffer.split_to(cut).freeze());
                self.row_end = 0;
            }
        }
    }

    /// What is left, as a last chunk.
    fn flush(&mut self) -> Option<Bytes> {
        self.row_end = 0;
        (!self.buffer.is_empty()).then(|| self.buffer.split().freeze())
    }
}

/// Sends one chunk, waiting while the person's download is behind (the server holds each try
/// a few seconds), retrying a server that is away a few times.
async fn send_chunk(
    shared: &Shared,
    id: Uuid,
    lease_token: Uuid,
    seq: u32,
    data: Bytes,
) -> Result<(), Stopped> {
    let mut failures = 0;
    let mut backoff = super::Backoff::default();
    loop {
        match shared
            .client
            .send_chunk(id, lease_token, seq, data.clone())
            .await
        {
            Ok(()) => return Ok(()),
            Err(CallError::Busy) => tokio::time::sleep(Duration::from_millis(20)).await,
            Err(CallError::Gone) => return Err(Stopped::Gone),
            Err(CallError::Fatal(message)) => {
                let _ = shared.fatal.send(message);
                return Err(Stopped::Gone);
            }
            Err(CallError::Transient(message)) => {
                failures += 1;
                tracing::warn!(job.id = %id, %message, "sending a chunk failed; retrying");
                if failures >= ATTEMPTS {
                    return Err(Stopped::Unreachable);
                }
                backoff.wait().await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(size: usize, pieces: &[&str]) -> Vec<String> {
        let mut chunker = Chunker::new(size);
        let mut ready = Vec::new();
        for piece in pieces {
            chunker.push(piece.as_bytes(), &mut ready);
        }
        ready.extend(chunker.flush());
        ready
            .iter()
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect()
    }

    #[test]
    fn chunks_end_with_whole_rows_and_a_newline_in_quotes_is_no_row_end() {
        assert_eq!(
            chunks(10, &["id\n1,\"a\nb\"\n", "2,c\n"]),
            ["id\n", "1,\"a\nb\"\n", "2,c\n"]
        );
        assert_eq!(chunks(4, &["abcdefgh\n"]), ["abcd", "efgh", "\n"]);
        assert_eq!(chunks(10, &["id\n", "1\n"]).concat(), "id\n1\n");
    }
}
