//! CSV lines for Download CSV that a spreadsheet opens as data, never as formulas.
//!
//! External data is written as it comes, so a cell such as an affiliate named
//! `=HYPERLINK("https://evil.example","Click")` would run when the file is opened in Excel or
//! LibreOffice. Following OWASP's advice on CSV injection, a cell that starts with `=`, `+`, `-`,
//! `@`, a tab or a carriage return gets a leading single quote, which spreadsheets show as text.
//! Numbers are left alone (`-194`, `-1.5`, `+3`, `1e-5`): a spreadsheet reads them as numbers,
//! not formulas, and payouts must stay numbers.

use std::borrow::Cow;

use bytes::Bytes;

/// One CSV record (with its line end) of `cells`, each neutralised.
pub(crate) fn csv_line(cells: &[String]) -> Bytes {
    let mut writer = csv::WriterBuilder::new().from_writer(Vec::new());
    // Writing to a Vec cannot fail; an error here would only mean a bug in csv.
    let _ = writer.write_record(cells.iter().map(|cell| neutralise(cell).into_owned()));
    Bytes::from(writer.into_inner().unwrap_or_default())
}

/// `cell`, prefixed with `'` when a spreadsheet would read it as a formula.
fn neutralise(cell: &str) -> Cow<'_, str> {
    let starts_formula = cell
        .chars()
        .next()
        .is_some_and(|c| matches!(c, '=' | '+' | '-' | '@' | '\t' | '\r'));
    if starts_formula && !is_number(cell) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// A plain decimal number: optional sign, digits with an optional fraction, optional exponent.
fn is_number(text: &str) -> bool {
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((mantissa, exponent)) => (mantissa, Some(exponent)),
        None => (unsigned, None),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok =
        digits(whole) && digits(fraction) && !(whole.is_empty() && fraction.is_empty());
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        !e.is_empty() && digits(e)
    });
    mantissa_ok && exponent_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_a_spreadsheet_would_run_start_with_a_quote() {
        let cases = [
            (
                "=HYPERLINK(\"https://evil.example\",\"Click\")",
                "'=HYPERLINK(\"https://evil.example\",\"Click\")",
            ),
            ("=1+2", "'=1+2"),
            ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
            ("\t=1", "'\t=1"),
            ("\r=1", "'\r=1"),
            ("-", "'-"),
            ("+", "'+"),
            ("-inf", "'-inf"),
            ("-1e", "'-1e"),
            ("--1", "'--1"),
        ];
        for (cell, expected) in cases {
            assert_eq!(neutralise(cell), expected, "{cell:?}");
        }
    }

    #[test]
    fn numbers_and_ordinary_text_stay_as_they_are() {
        for cell in [
            "-194",
            "-1.5",
            "+3",
            "-0.25",
            "+.5",
            "-7.",
            "1e-5",
            "-2.5E+3",
            "900.00000",
            "",
            "Acme",
            "a=b",
            " =1",
            "'quoted",
            "#tag",
        ] {
            assert_eq!(neutralise(cell), cell, "{cell:?}");
        }
    }

    #[test]
    fn a_line_is_quoted_csv_with_every_cell_neutralised() {
        let line = csv_line(&[
            "7".to_string(),
            "=HYPERLINK(\"x\")".to_string(),
            "-1.5".to_string(),
            "a,b".to_string(),
        ]);
        assert_eq!(
            String::from_utf8_lossy(&line),
            "7,\"'=HYPERLINK(\"\"x\"\")\",-1.5,\"a,b\"\n"
        );
    }
}
