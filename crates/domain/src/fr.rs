//! French wording shared by error messages, pages, CSV and mail: dates as a
//! mediator writes them, and the label of each domain value.

pub(crate) mod dates;
mod labels;

pub use dates::{date, day_month, days, range};
pub use labels::{Labelled, event_label, in_sentence, label, label_of, rome};

/// What stands for a person's situation in her words once her data was
/// erased (« la situation », feminine), on her file and in her space alike.
pub const ERASED_SITUATION: &str = "(effacée)";
