//! Tags on connections (`env:prod`, `team:emea`): one spelling everywhere, so the form, the
//! list's `?tag=` filter, the API and imports store and match the same text.

/// The longest tag, in characters.
pub(crate) const TAG_MAX: usize = 40;
/// The most tags one connection holds.
pub(crate) const TAGS_MAX: usize = 20;

/// The form's name and label for the tags field (every connector has it).
pub(crate) const FIELD: &str = "tags";
pub(crate) const LABEL: &str = "Tags";

fn allowed(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '-' | '_' | ':' | '.' | '/')
}

/// One tag as stored (lower-case, trimmed), or `None` when it is empty, too long or holds a
/// character tags may not.
pub(crate) fn normalise(tag: &str) -> Option<String> {
    let tag = tag.trim().to_lowercase();
    let ok = !tag.is_empty() && tag.chars().count() <= TAG_MAX && tag.chars().all(allowed);
    ok.then_some(tag)
}

/// The tags typed in the form, separated by commas or spaces: normalised, duplicates dropped,
/// in the order typed; or the message shown next to the field.
pub(crate) fn parse_list(text: &str) -> Result<Vec<String>, String> {
    let mut tags: Vec<String> = Vec::new();
    for typed in text.split(|c: char| c == ',' || c.is_whitespace()) {
        if typed.is_empty() {
            continue;
        }
        let Some(tag) = normalise(typed) else {
            return Err(if typed.chars().count() > TAG_MAX {
                format!("“{typed}” is too long: use at most {TAG_MAX} characters per tag.")
            } else {
                format!(
                    "“{typed}” is not a tag: use letters, digits and - _ : . / only, e.g. env:prod."
                )
            });
        };
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    if tags.len() > TAGS_MAX {
        return Err(format!(
            "Use at most {TAGS_MAX} tags (there are {}).",
            tags.len()
        ));
    }
    Ok(tags)
}

/// How the form shows stored tags, ready to be edited and posted again.
pub(crate) fn display(tags: &[String]) -> String {
    tags.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_split_on_commas_and_spaces_and_are_lower_cased_once() {
        assert_eq!(
            parse_list(" Env:Prod, team:EMEA  env:prod,,region/eu-1 "),
            Ok(vec![
                "env:prod".to_string(),
                "team:emea".to_string(),
                "region/eu-1".to_string()
            ])
        );
        assert_eq!(parse_list(""), Ok(vec![]));
    }

    #[test]
    fn bad_tags_are_refused_with_a_reason() {
        for (text, why) in [
            ("env=prod", "not a tag"),
            ("ok <script>", "not a tag"),
            (&"x".repeat(41), "too long"),
        ] {
            let message = parse_list(text).expect_err(text);
            assert!(message.contains(why), "{text}: {message}");
        }
        let many: Vec<String> = (0..21).map(|i| format!("t{i}")).collect();
        assert!(parse_list(&many.join(" ")).is_err(), "21 tags");
        assert!(parse_list(&many[..20].join(" ")).is_ok(), "20 tags");
        assert_eq!(normalise("  A.B_c-d/e:f "), Some("a.b_c-d/e:f".into()));
        assert_eq!(normalise("a b"), None);
    }
}
