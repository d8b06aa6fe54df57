//! French wording shared by error messages, pages, CSV and mail: dates as a
//! mediator writes them, and the label of each domain value.

pub(crate) mod dates;
mod labels;

pub use dates::{date, day_month, days, range};
pub use labels::{Labelled, event_label, in_sentence, label, label_of, rome};

/// « de Camille Durand », « d'Anne Martin »: the preposition before a name,
/// elided before a vowel.
pub fn of(name: &str) -> String {
    let elided = name
        .chars()
        .next()
        .is_some_and(|c| "aeiouyàâäéèêëîïôöùûüÿæœ".contains(c.to_lowercase().next().unwrap_or(c)));
    if elided {
        format!("d'{name}")
    } else {
        format!("de {name}")
    }
}

/// What stands for a person's situation in her words once her data was
/// erased (« la situation », feminine), on her file and in her space alike.
pub const ERASED_SITUATION: &str = "(effacée)";

#[cfg(test)]
mod tests {
    #[test]
    fn the_preposition_before_a_name_is_elided_before_a_vowel() {
        assert_eq!(super::of("Camille Durand"), "de Camille Durand");
        assert_eq!(super::of("Anne Martin"), "d'Anne Martin");
        assert_eq!(super::of("Élodie Roux"), "d'Élodie Roux");
        assert_eq!(super::of("Yanis Benali"), "d'Yanis Benali");
    }
}
