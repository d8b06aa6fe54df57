//! Free text typed by users: trimmed, never empty, bounded, and printable:
//! a control character is invisible to whoever reads the text back, and
//! NUL cannot be stored by PostgreSQL at all.

use serde::{Deserialize, Serialize};

use crate::error::{DomainError, Rule};

/// Whether a text may run over several lines (line breaks and tabs are then
/// kept; a name or a label holds on one line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lines {
    One,
    Several,
}

fn parse(
    input: &str,
    max: usize,
    lines: Lines,
    field: &'static str,
) -> Result<String, DomainError> {
    // Browsers send a textarea's line breaks as CRLF: kept as one line break.
    let normalised;
    let input = if lines == Lines::Several && input.contains('\r') {
        normalised = input.replace("\r\n", "\n").replace('\r', "\n");
        normalised.as_str()
    } else {
        input
    };
    // Invisible characters pasted text brings along (a soft hyphen, a
    // zero-width space, a byte order mark) are dropped rather than refused:
    // nobody could see what to remove.
    let kept;
    let input = if input.chars().any(stripped) {
        kept = input.chars().filter(|&c| !stripped(c)).collect::<String>();
        kept.as_str()
    } else {
        input
    };
    let text = stored(input, max, field)?;
    if let Some(c) = text
        .chars()
        .find(|&c| c.is_control() && !(lines == Lines::Several && matches!(c, '\n' | '\t')))
    {
        let message = if matches!(c, '\n' | '\r' | '\t') {
            "Ce texte tient sur une seule ligne : retirez-en les retours à la ligne et les tabulations."
                .to_owned()
        } else {
            format!(
                "Ce texte contient un caractère de contrôle invisible (U+{:04X}) : retirez-le.",
                u32::from(c)
            )
        };
        return Err(DomainError::invalid(
            Rule::TextControlCharacter,
            field,
            message,
        ));
    }
    // Invisible too, and able to make a name read other than it is (a
    // direction override reverses what follows).
    if let Some(c) = text.chars().find(|&c| formatting(c)) {
        return Err(DomainError::invalid(
            Rule::TextControlCharacter,
            field,
            format!(
                "Ce texte contient un caractère de mise en forme invisible (U+{:04X}) : retirez-le.",
                u32::from(c)
            ),
        ));
    }
    if !text.chars().any(|c| !c.is_whitespace() && !combining(c)) {
        return Err(DomainError::invalid(
            Rule::Required,
            field,
            "Ce texte ne contient aucun caractère visible.",
        ));
    }
    Ok(text)
}

/// Invisible characters dropped from what is typed: the soft hyphen, the
/// Mongolian vowel separator, the zero-width space, the word joiner, the
/// byte order mark.
fn stripped(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}' | '\u{180E}' | '\u{200B}' | '\u{2060}' | '\u{FEFF}'
    )
}

/// Unicode's format characters (general category Cf) refused in what is
/// typed: they are invisible, and some make a text read other than it is
/// (a direction embedding, override or isolate reverses what follows):
/// number signs and marks of Arabic and Syriac, embeddings, overrides and
/// isolates, invisible operators, interlinear annotations, Egyptian and
/// shorthand format controls, musical formatting, the language tag. The
/// joiners (U+200C, U+200D), the direction marks (U+200E, U+200F, U+061C),
/// which texts in Arabic or Hebrew need, and the tags (U+E0020 to U+E007F,
/// which spell a flag's region after U+1F3F4) are kept.
fn formatting(c: char) -> bool {
    matches!(
        c,
        '\u{0600}'..='\u{0605}'
            | '\u{06DD}'
            | '\u{070F}'
            | '\u{0890}'..='\u{0891}'
            | '\u{08E2}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2061}'..='\u{2064}'
            | '\u{2066}'..='\u{206F}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{110BD}'
            | '\u{110CD}'
            | '\u{13430}'..='\u{1343F}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0001}'
    )
}

/// Whether a character shows nothing by itself: dropped or refused here,
/// or one of those kept that only shape the letters around them. Quoted
/// back in a message ([`echoed`]), none is.
fn invisible(c: char) -> bool {
    stripped(c) || formatting(c) || combining(c)
}

/// What shows only with the letters around it: combining marks (Latin,
/// Arabic), variation selectors, the joiners and direction marks, the
/// Hangul fillers, the tags. A text of nothing else is empty.
fn combining(c: char) -> bool {
    matches!(
        c,
        '\u{0300}'..='\u{036F}'
            | '\u{061C}'
            | '\u{064B}'..='\u{065F}'
            | '\u{0670}'
            | '\u{115F}'..='\u{1160}'
            | '\u{1AB0}'..='\u{1AFF}'
            | '\u{1DC0}'..='\u{1DFF}'
            | '\u{200C}'..='\u{200F}'
            | '\u{20D0}'..='\u{20FF}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FE20}'..='\u{FE2F}'
            | '\u{FFA0}'
            | '\u{E0020}'..='\u{E007F}'
    )
}

/// What a stored text was checked for when it was first parsed before
/// control characters were refused: a text read back from an event must
/// keep reading, whatever it holds.
fn stored(input: &str, max: usize, field: &'static str) -> Result<String, DomainError> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(DomainError::invalid(
            Rule::Required,
            field,
            "Ce champ est obligatoire.",
        ));
    }
    let chars = trimmed.chars().count();
    if chars > max {
        return Err(DomainError::invalid(
            Rule::TextTooLong,
            field,
            format!("Ce texte fait {chars} caractères : {max} au plus."),
        ));
    }
    Ok(trimmed.to_owned())
}

/// What a client typed, as a message quotes it back: trimmed, without its
/// control and invisible characters (nothing in the message turns it
/// around), and cut after [`ECHOED_CHARS`] characters, so that a refusal
/// stays short whatever was sent.
pub fn echoed(input: &str) -> String {
    let mut shown: String = input
        .trim()
        .chars()
        .filter(|&c| !c.is_control() && !invisible(c))
        .take(ECHOED_CHARS + 1)
        .collect();
    if shown.chars().count() > ECHOED_CHARS {
        shown = shown.chars().take(ECHOED_CHARS).collect();
        shown.push('…');
    }
    shown
}

/// What a client typed, to show again in the field it came from: whole,
/// its line breaks and tabs kept, without the other control characters (a
/// page may not carry them) nor those the text rules drop or refuse
/// ([`stripped`], [`formatting`]): sent again, it is not refused for a
/// character the field does not show.
pub fn shown_again(input: &str) -> String {
    input
        .chars()
        .filter(|&c| {
            let control = c.is_control() && !matches!(c, '\t' | '\n' | '\r');
            !(control || stripped(c) || formatting(c))
        })
        .collect()
}

/// The characters of an input [`echoed`] keeps.
pub const ECHOED_CHARS: usize = 30;

macro_rules! text_type {
    ($(#[$doc:meta])* $name:ident, $max:expr, $lines:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub const MAX_CHARS: usize = $max;

            pub fn parse(input: &str) -> Result<Self, DomainError> {
                parse(input, $max, $lines, "text").map(Self)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        string_value!($name, DomainError, |v| stored(&v, $max, "text").map(Self), display);
    };
}

text_type!(
    /// A name or a short label, on one line: a person's or a company's
    /// name, a job title.
    Label,
    200,
    Lines::One
);
text_type!(
    /// Words in a paragraph or more: observations, a situation in the
    /// person's own words, goals, advice.
    Text,
    10_000,
    Lines::Several
);

/// A text folded for searching: lowercase, without accents, ligatures
/// spelt out, white space collapsed, so that « Crèche Œuvre » and
/// « creche oeuvre » find each other however either was typed. What a
/// search looks for and what it looks in are folded by this same function.
pub fn search_key(text: &str) -> String {
    let mut folded = String::with_capacity(text.len());
    let mut space = false;
    for c in text.trim().chars().flat_map(char::to_lowercase) {
        if c.is_whitespace() {
            space = true;
            continue;
        }
        if std::mem::take(&mut space) {
            folded.push(' ');
        }
        match c {
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => folded.push('a'),
            'ç' | 'ć' | 'ĉ' | 'ċ' | 'č' => folded.push('c'),
            'ď' | 'đ' => folded.push('d'),
            'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ĕ' | 'ė' | 'ę' | 'ě' => folded.push('e'),
            'ĝ' | 'ğ' | 'ġ' | 'ģ' => folded.push('g'),
            'ì' | 'í' | 'î' | 'ï' | 'ĩ' | 'ī' | 'ĭ' | 'į' | 'ı' => folded.push('i'),
            'ł' | 'ľ' | 'ĺ' | 'ļ' => folded.push('l'),
            'ñ' | 'ń' | 'ň' | 'ņ' => folded.push('n'),
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ŏ' | 'ő' => folded.push('o'),
            'ŕ' | 'ř' => folded.push('r'),
            'ś' | 'ŝ' | 'ş' | 'š' => folded.push('s'),
            'ţ' | 'ť' => folded.push('t'),
            'ù' | 'ú' | 'û' | 'ü' | 'ũ' | 'ū' | 'ŭ' | 'ů' | 'ű' | 'ų' => folded.push('u'),
            'ý' | 'ÿ' => folded.push('y'),
            'ź' | 'ż' | 'ž' => folded.push('z'),
            'œ' => folded.push_str("oe"),
            'æ' => folded.push_str("ae"),
            'ß' => folded.push_str("ss"),
            // Typographic apostrophes and dashes as typed on a keyboard.
            '’' | 'ʼ' | '‘' => folded.push('\''),
            '‐' | '‑' | '–' | '—' => folded.push('-'),
            c => folded.push(c),
        }
    }
    folded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_shown_again_keeps_its_lines_and_loses_what_a_page_may_not_carry() {
        assert_eq!(
            shown_again("Awa\u{1}\u{7F}\u{202E} Diallo\u{200B}\n\tici\r\n"),
            "Awa Diallo\n\tici\r\n"
        );
        // What texts in other scripts need stays: accents, joiners, marks.
        assert_eq!(
            shown_again("Émilie\u{200D}\u{200F}"),
            "Émilie\u{200D}\u{200F}"
        );
    }

    #[test]
    fn search_keys_ignore_case_accents_and_spacing() {
        assert_eq!(search_key("  Crèche   ŒUVRE  "), "creche oeuvre");
        assert_eq!(
            search_key("Boulangerie de l’Étoile"),
            "boulangerie de l'etoile"
        );
        assert_eq!(search_key("SARL Ça Pétille"), search_key("sarl ca petille"));
        assert_eq!(search_key("44109"), "44109");
    }

    #[test]
    fn text_is_trimmed_and_never_empty() {
        assert_eq!(
            Label::parse("  Boulangerie  ").unwrap().as_str(),
            "Boulangerie"
        );
        assert_eq!(Label::parse("   ").unwrap_err().rule, Rule::Required);
        let long = "a".repeat(201);
        assert_eq!(Label::parse(&long).unwrap_err().rule, Rule::TextTooLong);
        assert!(Label::parse(&"é".repeat(200)).is_ok());
    }

    #[test]
    fn an_input_is_quoted_back_short_and_printable() {
        assert_eq!(echoed("  06 12 34  "), "06 12 34");
        assert_eq!(echoed("a\u{1}b\0c"), "abc");
        // Nor what would turn the message around, or show nothing.
        assert_eq!(echoed("a\u{202E}b\u{200B}c"), "abc");
        let long = "0".repeat(100_000);
        assert_eq!(echoed(&long), format!("{}…", "0".repeat(ECHOED_CHARS)));
        assert_eq!(echoed(&"é".repeat(ECHOED_CHARS)), "é".repeat(ECHOED_CHARS));
    }

    #[test]
    fn invisible_formatting_and_marks_alone_are_refused() {
        for bad in ["Te\u{202E}st", "Awa\u{2066}", "\u{E0001}fr", "A\u{FFF9}b"] {
            let refused = Label::parse(bad).unwrap_err();
            assert_eq!(refused.rule, Rule::TextControlCharacter, "{bad:?}");
            assert!(refused.message.contains("U+"), "{}", refused.message);
            assert_eq!(
                Text::parse(bad).unwrap_err().rule,
                Rule::TextControlCharacter,
                "{bad:?}"
            );
        }
        // Dropped, as pasted text brings them along.
        assert_eq!(Label::parse("\u{FEFF}Awa\u{00AD}").unwrap().as_str(), "Awa");
        assert_eq!(Text::parse("Pé\u{200B}trir").unwrap().as_str(), "Pétrir");
        for nothing in [
            "\u{0301}\u{0301}\u{0301}",
            "\u{200D}",
            " \u{0301} ",
            "\u{200B}",
            "\u{E0041}",
            "\u{FE0F}",
            "\u{3164}",
            "\u{064B}",
        ] {
            assert_eq!(
                Label::parse(nothing).unwrap_err().rule,
                Rule::Required,
                "{nothing:?}"
            );
        }
        // Accents written as combining marks, joiners, direction marks,
        // emoji and flags stay.
        for good in [
            "Éloi",
            "E\u{0301}loi",
            "می\u{200C}خواهم",
            "👩\u{200D}🍳 Awa",
            "\u{1F3F4}\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F} Awa",
            "\u{05E9}\u{05DC}\u{05D5}\u{05DD}\u{200F}",
        ] {
            assert!(Label::parse(good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn control_characters_are_refused_but_lines_and_tabs_of_a_paragraph() {
        for bad in ["Awa\0", "A\u{7}wa", "Awa\u{1b}[31m", "A\u{85}wa", "A\u{7f}"] {
            assert_eq!(
                Label::parse(bad).unwrap_err().rule,
                Rule::TextControlCharacter,
                "{bad:?}"
            );
            assert_eq!(
                Text::parse(bad).unwrap_err().rule,
                Rule::TextControlCharacter,
                "{bad:?}"
            );
        }
        let nul = Label::parse("Awa\0Diallo").unwrap_err();
        assert!(nul.message.contains("U+0000"), "{}", nul.message);
        assert!(nul.message.ends_with('.'));
        for one_line in ["Awa\nDiallo", "Awa\tDiallo", "Awa\r\nDiallo"] {
            assert_eq!(
                Label::parse(one_line).unwrap_err().rule,
                Rule::TextControlCharacter
            );
        }
        assert_eq!(
            Text::parse("Peser,\tpétrir\r\nfaçonner\rcuire")
                .unwrap()
                .as_str(),
            "Peser,\tpétrir\nfaçonner\ncuire"
        );
    }

    #[test]
    fn a_stored_text_reads_back_whatever_it_holds() {
        let stored: Label = serde_json::from_str(r#""Awa\tDiallo\u0007""#).unwrap();
        assert_eq!(stored.as_str(), "Awa\tDiallo\u{7}");
        assert!(serde_json::from_str::<Text>(r#""  ""#).is_err());
    }
}
