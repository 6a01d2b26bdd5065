//! Where a construct is in the query text, and how it is named in a refusal.
//!
//! sqlparser spans locate most nodes; keywords without a span of their own (`DISTINCT`,
//! `HAVING`, the `NOT` of `NOT (…)`) are found by searching the text outside quotes.

use sqlparser::ast::{Expr, InTarget, Spanned, Statement};
use sqlparser::parser::ParserError;
use sqlparser::tokenizer::Span;

use super::Cx;
use crate::hasoffers::query::{Pos, QueryError};

/// Turn a sqlparser error into a `QueryError`, lifting its "at Line: x, Column: y" suffix
/// into the structured position.
///
/// Errors at the end of input ("found: EOF") carry no position, so they point just past
/// the last non-blank character.
pub(super) fn syntax_error(error: &ParserError, sql: &str) -> QueryError {
    let (text, construct) = match error {
        ParserError::TokenizerError(m) | ParserError::ParserError(m) => (m.as_str(), "syntax"),
        ParserError::RecursionLimitExceeded => (
            "The query is nested too deeply (too many parentheses)",
            "nesting depth",
        ),
    };
    let (message, pos) = match text.rfind(" at Line: ") {
        Some(at) => (
            &text[..at],
            parse_line_col(&text[at + " at Line: ".len()..]),
        ),
        None if text.ends_with("found: EOF") => (text, Pos::of_offset(sql, sql.trim_end().len())),
        None => (text, Pos::UNKNOWN),
    };
    QueryError::refuse(construct, format!("SQL syntax error: {message}"), pos)
}

/// Parse `"3, Column: 14"`.
fn parse_line_col(s: &str) -> Pos {
    let mut parts = s.split(", Column: ");
    let line = parts.next().and_then(|l| l.trim().parse().ok());
    let column = parts.next().and_then(|c| {
        let digits: String = c.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    });
    match (line, column) {
        (Some(l), Some(c)) => Pos::at(l, c),
        _ => Pos::UNKNOWN,
    }
}

/// The first word of `text`, upper-cased (`insert` → `INSERT`), naming a refused statement.
pub(super) fn first_word(text: &str) -> String {
    let word: String = text
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_alphabetic() || *c == '_')
        .collect();
    if word.is_empty() {
        "statement".to_string()
    } else {
        word.to_ascii_uppercase()
    }
}

impl Cx<'_> {
    /// Position of a span, or `UNKNOWN` for sqlparser's empty spans (line 0).
    pub(super) fn span(&self, span: Span) -> Pos {
        if span.start.line == 0 {
            Pos::UNKNOWN
        } else {
            Pos::at(span.start.line, span.start.column)
        }
    }

    /// Position of `node`, falling back to the first occurrence of `keyword` in the text.
    pub(super) fn node(&self, node: &impl Spanned, keyword: &str) -> Pos {
        match self.span(node.span()) {
            Pos::UNKNOWN => self.keyword(keyword),
            pos => pos,
        }
    }

    /// Position of the first whole-word, case-insensitive `keyword` outside quotes.
    pub(super) fn keyword(&self, keyword: &str) -> Pos {
        find_keyword(self.text, keyword).map_or(Pos::UNKNOWN, |at| Pos::of_offset(self.text, at))
    }

    /// Position of the last `keyword` before `node` starts (e.g. the NOT of `NOT (…)`, whose
    /// span covers only the operand).
    pub(super) fn keyword_before(&self, keyword: &str, node: &impl Spanned) -> Pos {
        let start = node.span().start;
        let Some(limit) = (start.line > 0)
            .then(|| offset_of(self.text, start.line, start.column))
            .flatten()
        else {
            return Pos::UNKNOWN;
        };
        find_keywords(self.text, keyword)
            .into_iter()
            .take_while(|at| *at < limit)
            .last()
            .map_or(Pos::UNKNOWN, |at| Pos::of_offset(self.text, at))
    }

    /// Position of the first non-blank character after the first `keyword`.
    pub(super) fn after_keyword(&self, keyword: &str) -> Pos {
        let Some(at) = find_keyword(self.text, keyword) else {
            return Pos::UNKNOWN;
        };
        let after = at + keyword.len();
        let rest = &self.text[after..];
        let skip = rest.len() - rest.trim_start().len();
        Pos::of_offset(self.text, after + skip)
    }

    /// Where a second statement starts: its span, or just after the first `;`.
    pub(super) fn statement_pos(&self, statement: &Statement) -> Pos {
        match self.span(statement.span()) {
            Pos::UNKNOWN => self.text.find(';').map_or(Pos::UNKNOWN, |i| {
                let rest = &self.text[i + 1..];
                let skip = rest.len() - rest.trim_start().len();
                Pos::of_offset(self.text, i + 1 + skip)
            }),
            pos => pos,
        }
    }

    /// Position of the AND/OR keyword of `expr`: just after its left operand.
    pub(super) fn op_pos(&self, expr: &Expr, keyword: &str) -> Pos {
        if let Expr::BinaryOp { left, .. } = expr {
            let end = left.span().end;
            if end.line > 0
                && let Some(at) = offset_of(self.text, end.line, end.column)
                && let Some(rel) = find_keyword(&self.text[at..], keyword)
            {
                return Pos::of_offset(self.text, at + rel);
            }
        }
        self.keyword(keyword)
    }
}

pub(super) trait PosExt {
    fn or(self, other: Pos) -> Pos;
}

impl PosExt for Pos {
    /// This position if known, else `other`.
    fn or(self, other: Pos) -> Pos {
        if self == Pos::UNKNOWN { other } else { self }
    }
}

/// Name an unsupported expression: (construct, description).
pub(super) fn describe(expr: &Expr) -> (&'static str, &'static str) {
    match expr {
        Expr::Function(_) => ("function", "A function"),
        Expr::Subquery(_)
        | Expr::Exists { .. }
        | Expr::In {
            target: InTarget::Subquery(_),
            ..
        } => ("subquery", "A subquery"),
        Expr::In { .. } => ("IN", "This kind of IN"),
        Expr::Case { .. } => ("CASE", "CASE"),
        Expr::Cast { .. } => ("CAST", "CAST"),
        Expr::BinaryOp { .. } | Expr::UnaryOp { .. } => ("expression", "An expression"),
        Expr::Value(_) | Expr::TypedString(_) => ("literal", "A value"),
        Expr::ILike { .. } => ("ILIKE", "ILIKE"),
        Expr::SimilarTo { .. } => ("SIMILAR TO", "SIMILAR TO"),
        Expr::RLike { .. } => ("REGEXP", "REGEXP/RLIKE"),
        Expr::IsDistinctFrom(..) | Expr::IsNotDistinctFrom(..) => {
            ("IS DISTINCT FROM", "IS [NOT] DISTINCT FROM")
        }
        Expr::IsNotTrue(_) | Expr::IsNotFalse(_) | Expr::IsUnknown(_) | Expr::IsNotUnknown(_) => (
            "IS NOT TRUE/FALSE",
            "IS NOT TRUE / IS NOT FALSE / IS UNKNOWN",
        ),
        Expr::AnyOp { .. } | Expr::AllOp { .. } => ("ANY/ALL", "ANY/ALL"),
        _ => ("expression", "An expression"),
    }
}

/// Cut long SQL snippets in messages.
pub(super) fn shorten(s: &str) -> String {
    const MAX: usize = 60;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        let cut: String = s.chars().take(MAX).collect();
        format!("{cut}…")
    }
}

/// Byte offset of a 1-based (line, column-in-chars) location.
fn offset_of(text: &str, line: u64, column: u64) -> Option<usize> {
    let mut start = 0usize;
    for _ in 1..line {
        start += text.get(start..)?.find('\n')? + 1;
    }
    let rest = text.get(start..)?;
    let skip = usize::try_from(column.saturating_sub(1)).ok()?;
    match rest.char_indices().nth(skip) {
        Some((i, _)) => Some(start + i),
        None => Some(text.len()),
    }
}

/// Byte offset of the first whole-word, case-insensitive `keyword` in `text`, skipping
/// quoted strings and identifiers. An empty keyword finds nothing.
fn find_keyword(text: &str, keyword: &str) -> Option<usize> {
    find_keywords_from(text, keyword, true).into_iter().next()
}

/// Byte offsets of every whole-word, case-insensitive `keyword` outside quotes.
fn find_keywords(text: &str, keyword: &str) -> Vec<usize> {
    find_keywords_from(text, keyword, false)
}

fn find_keywords_from(text: &str, keyword: &str, first_only: bool) -> Vec<usize> {
    let mut found = Vec::new();
    if keyword.is_empty() {
        return found;
    }
    let word_char = |c: char| c.is_alphanumeric() || c == '_';
    let kw_is_word = keyword.chars().all(word_char);
    let mut quote: Option<char> = None;
    let mut prev: Option<char> = None;
    for (i, c) in text.char_indices() {
        if let Some(q) = quote {
            if c == q {
                quote = None;
            }
            prev = Some(c);
            continue;
        }
        if matches!(c, '\'' | '"' | '`') {
            quote = Some(c);
            prev = Some(c);
            continue;
        }
        let starts_word = !kw_is_word || !prev.is_some_and(word_char);
        if starts_word
            && text
                .get(i..i + keyword.len())
                .is_some_and(|s| s.eq_ignore_ascii_case(keyword))
        {
            let next = text[i + keyword.len()..].chars().next();
            if !kw_is_word || !next.is_some_and(word_char) {
                found.push(i);
                if first_only {
                    return found;
                }
            }
        }
        prev = Some(c);
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyword_search_skips_strings_and_partial_words() {
        assert_eq!(find_keyword("a = 'OFFSET' OFFSET", "OFFSET"), Some(13));
        assert_eq!(find_keyword("OFFSETS offset", "OFFSET"), Some(8));
        assert_eq!(find_keyword("x|>y", "|>"), Some(1));
        assert_eq!(find_keyword("abc", ""), None);
        assert_eq!(
            find_keywords("not a NOT 'not' b_not not", "NOT"),
            vec![0, 6, 22]
        );
        assert_eq!(offset_of("ab\ncd", 2, 2), Some(4));
        assert_eq!(offset_of("ab", 5, 1), None);
    }

    #[test]
    fn syntax_error_position_is_parsed() {
        assert_eq!(parse_line_col("3, Column: 14"), Pos::at(3, 14));
        assert_eq!(parse_line_col("garbage"), Pos::UNKNOWN);
    }
}
