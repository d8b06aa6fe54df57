//! The texts a person agrees to, by purpose and version, from the files of
//! `consents/` compiled in. A consent records the version it was given on;
//! the highest version of a purpose is the one shown from now on.

use crate::person::ConsentPurpose;

/// One version of a purpose's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsentText {
    pub purpose: ConsentPurpose,
    /// `v1`, `v2`…
    pub version: &'static str,
    /// The file's first line, without its `# `.
    pub title: &'static str,
    /// The rest of the file: paragraphs separated by blank lines.
    pub body: &'static str,
}

/// Every text, oldest version first within a purpose.
const FILES: &[(ConsentPurpose, &str, &str)] = &[
    (
        ConsentPurpose::Testimony,
        "v1",
        include_str!("../consents/testimony/v1.md"),
    ),
    (
        ConsentPurpose::Mentoring,
        "v1",
        include_str!("../consents/mentoring/v1.md"),
    ),
    (
        ConsentPurpose::PeerContact,
        "v1",
        include_str!("../consents/peer_contact/v1.md"),
    ),
    (
        ConsentPurpose::DisabilityRecognition,
        "v1",
        include_str!("../consents/disability_recognition/v1.md"),
    ),
];

fn text((purpose, version, file): &(ConsentPurpose, &'static str, &'static str)) -> ConsentText {
    let (title, body) = file.split_once('\n').unwrap_or((file, ""));
    ConsentText {
        purpose: *purpose,
        version,
        title: title.trim_start_matches('#').trim(),
        body: body.trim(),
    }
}

/// Every version of every purpose's text.
pub fn all() -> impl Iterator<Item = ConsentText> {
    FILES.iter().map(text)
}

/// The version of `purpose`'s text shown from now on.
pub fn current(purpose: ConsentPurpose) -> ConsentText {
    all()
        .filter(|t| t.purpose == purpose)
        .last()
        .expect("every purpose has a text (tested)")
}

/// `purpose`'s text in `version`, if there is one.
pub fn find(purpose: ConsentPurpose, version: &str) -> Option<ConsentText> {
    all().find(|t| t.purpose == purpose && t.version == version)
}

/// The versions of `purpose`'s text, oldest first.
pub fn versions(purpose: ConsentPurpose) -> Vec<&'static str> {
    all()
        .filter(|t| t.purpose == purpose)
        .map(|t| t.version)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fr::Labelled;

    #[test]
    fn every_purpose_has_a_titled_text_and_versions_are_unique() {
        for purpose in ConsentPurpose::ALL {
            let current = current(*purpose);
            assert!(
                !current.title.is_empty() && current.body.len() > 100,
                "{purpose:?}"
            );
            let versions = versions(*purpose);
            let mut unique = versions.clone();
            unique.dedup();
            assert_eq!(unique, versions, "{purpose:?}");
        }
        assert!(find(ConsentPurpose::Testimony, "v1").is_some());
        assert!(find(ConsentPurpose::Testimony, "v9").is_none());
    }
}
