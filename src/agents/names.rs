//! Agent names are compared folded: compatibility forms (NFKC), invisible characters, case and
//! the common look-alikes across Latin, Cyrillic and Greek, so that "lConduct", "IСonduct"
//! (Cyrillic С) or "ICon\u{200B}duct" cannot be made next to "IConduct". The database holds
//! the folded key under a unique index, so the rule holds across instances.

use unicode_normalization::UnicodeNormalization;

/// Default-ignorable code points (zero-width, joiners, soft hyphen, BOM, variation selectors,
/// bidi controls, tags): they render as nothing.
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}'
        | '\u{FFA0}' | '\u{FFF0}'..='\u{FFF8}' | '\u{1BCA0}'..='\u{1BCA3}'
        | '\u{1D173}'..='\u{1D17A}' | '\u{E0000}'..='\u{E0FFF}')
}

/// One representative for characters that look alike in common fonts.
fn look_alike(c: char) -> char {
    match c {
        'l' | '1' | '|' | 'ı' | 'і' | 'ӏ' | 'ι' | 'ǀ' => 'i',
        '0' | 'о' | 'ο' | 'օ' => 'o',
        'а' | 'α' => 'a',
        'е' | 'ε' => 'e',
        'с' | 'ϲ' => 'c',
        'р' | 'ρ' => 'p',
        'у' | 'γ' => 'y',
        'х' | 'χ' => 'x',
        'ѕ' => 's',
        'ј' => 'j',
        'ԁ' => 'd',
        'к' | 'κ' => 'k',
        'м' => 'm',
        'н' | 'η' => 'n',
        'т' | 'τ' => 't',
        'в' | 'β' => 'b',
        'ԛ' => 'q',
        'ԝ' | 'ω' => 'w',
        'ν' => 'v',
        other => other,
    }
}

/// The key two names share when they look the same.
pub(crate) fn name_key(name: &str) -> String {
    let folded: String = name
        .nfkc()
        .filter(|c| !is_invisible(*c))
        .flat_map(char::to_lowercase)
        .map(look_alike)
        .collect();
    folded.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn look_alikes_of_iconduct_share_its_key() {
        let builtin = name_key("IConduct");
        let cases = [
            ("iconduct", "case"),
            ("lConduct", "lower-case L for capital I"),
            ("I\u{0421}onduct", "Cyrillic Es"),
            ("ICon\u{200B}duct", "zero-width space"),
            ("ICon\u{00AD}duct", "soft hyphen"),
            ("\u{FEFF}IConduct\u{2060}", "BOM and word joiner"),
            ("ＩＣｏｎｄｕｃｔ", "full-width forms"),
            ("IC0nduct", "zero for o"),
            ("  IConduct ", "spaces around"),
        ];
        for (name, why) in cases {
            assert_eq!(name_key(name), builtin, "{why}: {name:?}");
        }
        assert_ne!(name_key("Office LAN"), name_key("Office WAN"));
        assert_eq!(name_key("Office   LAN"), name_key("office lan"));
    }
}
