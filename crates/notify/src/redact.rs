//! What is kept of a mail server's answer: the answer without the e-mail
//! addresses it may quote (`550 5.1.1 <awa@exemple.fr>: unknown user`). A
//! mail to a whole establishment goes to every contact's address, and its
//! answer is kept until the mail is pruned, so it must not keep anyone's
//! address after their erasure: it never keeps one.

use std::borrow::Cow;

/// What stands for an address taken out of an answer.
pub const MASKED: &str = "[adresse masquée]";

/// A character of an address's local part: RFC 5322's atom characters and
/// dots, and any letter or digit beyond ASCII (RFC 6531).
fn local(c: char) -> bool {
    c.is_alphanumeric() || ".!#$%&'*+/=?^_`{|}~-".contains(c)
}

/// A character of an address's domain (a name, an IP literal in brackets).
fn domain(c: char) -> bool {
    c.is_alphanumeric() || ".-[]:".contains(c)
}

/// `answer` with every e-mail address in it replaced by [`MASKED`]; borrowed
/// as is when it holds none.
pub fn without_addresses(answer: &str) -> Cow<'_, str> {
    if !answer.contains('@') {
        return Cow::Borrowed(answer);
    }
    let chars: Vec<(usize, char)> = answer.char_indices().collect();
    let mut out = String::with_capacity(answer.len());
    // Where the text not yet copied starts, in bytes.
    let mut copied = 0;
    let mut i = 0;
    while i < chars.len() {
        if chars[i].1 != '@' {
            i += 1;
            continue;
        }
        // The local part: back over its characters, or a quoted string.
        let mut start = i;
        if i > 0 && chars[i - 1].1 == '"' {
            if let Some(open) = (0..i - 1).rev().find(|&j| chars[j].1 == '"') {
                start = open;
            }
        } else {
            while start > 0 && local(chars[start - 1].1) {
                start -= 1;
            }
        }
        let mut end = i + 1;
        while end < chars.len() && domain(chars[end].1) {
            end += 1;
        }
        // A sentence's full stop or a colon after the address is not its.
        while end > i + 1 && matches!(chars[end - 1].1, '.' | ':' | '-') {
            end -= 1;
        }
        let start_byte = chars[start].0;
        if start == i || end == i + 1 || start_byte < copied {
            i += 1;
            continue;
        }
        out.push_str(&answer[copied..start_byte]);
        out.push_str(MASKED);
        copied = chars.get(end).map_or(answer.len(), |&(byte, _)| byte);
        i = end;
    }
    if copied == 0 {
        return Cow::Borrowed(answer);
    }
    out.push_str(&answer[copied..]);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_addresses_a_server_quotes_are_masked() {
        for (answer, kept) in [
            (
                "550 5.1.1 <awa.diallo@exemple.fr>: Recipient address rejected: User unknown",
                "550 5.1.1 <[adresse masquée]>: Recipient address rejected: User unknown",
            ),
            (
                "552 mailbox full for jean-marc+rh@boulangerie-du-port.fr.",
                "552 mailbox full for [adresse masquée].",
            ),
            (
                "550 rejected: a@b.fr, c.d@e.example; RCPT TO:<x_y@[192.0.2.1]>",
                "550 rejected: [adresse masquée], [adresse masquée]; RCPT TO:<[adresse masquée]>",
            ),
            (
                "553 \"awa diallo\"@exemple.fr: bad syntax",
                "553 [adresse masquée]: bad syntax",
            ),
            (
                "550 zoé.lefèvre@société.fr n'existe pas",
                "550 [adresse masquée] n'existe pas",
            ),
        ] {
            assert_eq!(without_addresses(answer), kept, "{answer}");
        }
    }

    #[test]
    fn an_answer_without_an_address_is_kept_as_it_is() {
        for answer in [
            "451 4.7.1 greylisted, try again later",
            "pas de réponse du serveur",
            "554 @ alone, user@ and @domain are no addresses",
            "",
        ] {
            assert!(
                matches!(without_addresses(answer), Cow::Borrowed(a) if a == answer),
                "{answer}"
            );
        }
    }
}
