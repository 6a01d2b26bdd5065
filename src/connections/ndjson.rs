//! A CSV export as NDJSON: one JSON object per row, keyed by the header row, as the CSV arrives
//! (nothing waits for the whole file). The export's `# ERROR: …` last line becomes a last
//! `{"error": "…"}` object; its other comment lines (a note before a totals row) are dropped.

use bytes::Bytes;
use csv_core::{ReadRecordResult, Reader};
use futures_util::{Stream, StreamExt};

/// Turns CSV bytes into NDJSON bytes, chunk by chunk.
pub(crate) struct CsvToNdjson {
    reader: Reader,
    /// Input not yet consumed: a comment line still arriving.
    pending: Vec<u8>,
    fields: Vec<u8>,
    fields_len: usize,
    ends: Vec<usize>,
    ends_len: usize,
    /// No byte of the current record has been read: where a comment line may start.
    at_record_start: bool,
    header: Option<Vec<String>>,
}

impl Default for CsvToNdjson {
    fn default() -> Self {
        Self {
            reader: Reader::new(),
            pending: Vec::new(),
            fields: vec![0; 4096],
            fields_len: 0,
            ends: vec![0; 64],
            ends_len: 0,
            at_record_start: true,
            header: None,
        }
    }
}

impl CsvToNdjson {
    /// The NDJSON lines complete after `chunk`.
    pub(crate) fn push(&mut self, chunk: &[u8]) -> Vec<u8> {
        self.pending.extend_from_slice(chunk);
        self.run(false)
    }

    /// The last line, once the CSV has ended.
    pub(crate) fn finish(&mut self) -> Vec<u8> {
        self.run(true)
    }

    fn run(&mut self, at_end: bool) -> Vec<u8> {
        let mut out = Vec::new();
        let mut input = std::mem::take(&mut self.pending);
        let mut at = 0;
        loop {
            if self.at_record_start {
                while at < input.len() && matches!(input[at], b'\r' | b'\n') {
                    at += 1;
                }
                if input.get(at) == Some(&b'#') {
                    match input[at..].iter().position(|b| *b == b'\n') {
                        Some(end) => {
                            self.comment(&input[at..at + end], &mut out);
                            at += end + 1;
                            continue;
                        }
                        None if at_end => {
                            self.comment(&input[at..], &mut out);
                            at = input.len();
                        }
                        None => {
                            self.pending = input.split_off(at);
                            return out;
                        }
                    }
                }
                if at >= input.len() && !at_end {
                    return out;
                }
            }
            let (result, read, written, ended) = self.reader.read_record(
                &input[at..],
                &mut self.fields[self.fields_len..],
                &mut self.ends[self.ends_len..],
            );
            at += read;
            if read > 0 {
                self.at_record_start = false;
            }
            self.fields_len += written;
            self.ends_len += ended;
            match result {
                ReadRecordResult::InputEmpty => {
                    if !at_end {
                        return out;
                    }
                }
                ReadRecordResult::OutputFull => {
                    let grown = self.fields.len() * 2;
                    self.fields.resize(grown, 0);
                }
                ReadRecordResult::OutputEndsFull => {
                    let grown = self.ends.len() * 2;
                    self.ends.resize(grown, 0);
                }
                ReadRecordResult::Record => {
                    self.record(&mut out);
                    self.fields_len = 0;
                    self.ends_len = 0;
                    self.at_record_start = true;
                }
                ReadRecordResult::End => return out,
            }
        }
    }

    fn comment(&self, line: &[u8], out: &mut Vec<u8>) {
        let text = String::from_utf8_lossy(line);
        let text = text.trim_end_matches('\r');
        if let Some(message) = text.strip_prefix("# ERROR: ") {
            line_of(&serde_json::json!({ "error": message }), out);
        }
    }

    fn record(&mut self, out: &mut Vec<u8>) {
        let mut cells = Vec::with_capacity(self.ends_len);
        let mut start = 0;
        for end in &self.ends[..self.ends_len] {
            cells.push(String::from_utf8_lossy(&self.fields[start..*end]).into_owned());
            start = *end;
        }
        let Some(header) = &self.header else {
            self.header = Some(cells);
            return;
        };
        let mut object = serde_json::Map::new();
        for (i, cell) in cells.into_iter().enumerate() {
            let key = header
                .get(i)
                .cloned()
                .unwrap_or_else(|| format!("column_{}", i + 1));
            object.insert(key, serde_json::Value::String(cell));
        }
        line_of(&serde_json::Value::Object(object), out);
    }
}

fn line_of(value: &serde_json::Value, out: &mut Vec<u8>) {
    // Serialising a `Value` to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, value);
    out.push(b'\n');
}

/// `csv` as NDJSON, converted as it arrives.
pub(crate) fn from_csv(
    csv: impl Stream<Item = Bytes> + Send + 'static,
) -> impl Stream<Item = Bytes> + Send + 'static {
    let csv = Box::pin(csv.map(Some).chain(futures_util::stream::iter([None])));
    futures_util::stream::unfold(
        (csv, CsvToNdjson::default()),
        |(mut csv, mut converter)| async move {
            loop {
                let lines = match csv.next().await? {
                    Some(chunk) => converter.push(&chunk),
                    None => converter.finish(),
                };
                if !lines.is_empty() {
                    return Some((Bytes::from(lines), (csv, converter)));
                }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn convert(chunks: &[&[u8]]) -> String {
        let mut converter = CsvToNdjson::default();
        let mut out = Vec::new();
        for chunk in chunks {
            out.extend(converter.push(chunk));
        }
        out.extend(converter.finish());
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn rows_become_objects_keyed_by_the_header_whatever_the_chunks() {
        let csv = b"id,name\n1,\"Summer, sale\"\n2,\"two\nlines\"\n# ERROR: the export stopped early: TUNE went away\n";
        let expected = "{\"id\":\"1\",\"name\":\"Summer, sale\"}\n{\"id\":\"2\",\"name\":\"two\\nlines\"}\n{\"error\":\"the export stopped early: TUNE went away\"}\n";
        assert_eq!(convert(&[csv]), expected, "in one chunk");
        let bytes: Vec<&[u8]> = csv.chunks(1).collect();
        assert_eq!(convert(&bytes), expected, "byte by byte");
    }

    #[test]
    fn comments_other_than_errors_are_dropped_and_a_last_row_needs_no_newline() {
        let csv = b"a,b\r\n1,2\r\n# Totals of the whole result, as TUNE reports them:\r\n3,4";
        assert_eq!(
            convert(&[csv]),
            "{\"a\":\"1\",\"b\":\"2\"}\n{\"a\":\"3\",\"b\":\"4\"}\n"
        );
    }
}
