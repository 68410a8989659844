//! Text values typed by what they mean: a person's name, an email address, an organization.
//!
//! Each rejects what would break a receipt, an email header or a mailing list (empty values, control
//! characters, absurd lengths) and nothing a real person might type: names may hold apostrophes,
//! accents, even angle brackets, because every output escapes them. A value must show something:
//! one made only of invisible characters (zero-width spaces, joiners, combining marks alone) is
//! empty, and one holding a text-direction override (which can make a receipt read backwards) is
//! refused.

use serde::{Deserialize, Serialize};
use std::fmt;
use unicode_properties::{GeneralCategoryGroup, UnicodeGeneralCategory};

/// Why a text value was rejected; the message is written for the person who typed it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("is required")]
    Empty,
    #[error("must be at most {max} characters")]
    TooLong { max: usize },
    #[error("must not contain control characters")]
    ControlCharacter,
    #[error("must not contain text-direction control characters")]
    DirectionControl,
    #[error("must be a valid email address, like name@example.org")]
    InvalidEmail,
}

/// Trims, then checks emptiness (nothing visible left), length (in characters), control
/// characters and text-direction overrides.
pub(crate) fn plain_text(raw: &str, max: usize) -> Result<String, TextError> {
    let trimmed = raw.trim();
    if !trimmed.chars().any(is_visible) {
        return Err(TextError::Empty);
    }
    if trimmed.chars().count() > max {
        return Err(TextError::TooLong { max });
    }
    if trimmed.chars().any(char::is_control) {
        return Err(TextError::ControlCharacter);
    }
    if trimmed.chars().any(is_direction_control) {
        return Err(TextError::DirectionControl);
    }
    Ok(trimmed.to_owned())
}

/// Whether a character shows on its own: not a space, not a format character (zero-width space,
/// joiners, soft hyphen, byte-order mark) and not a mark that only combines with another.
fn is_visible(c: char) -> bool {
    !c.is_whitespace()
        && !matches!(
            c.general_category_group(),
            GeneralCategoryGroup::Mark | GeneralCategoryGroup::Other
        )
}

/// Embeddings, overrides and isolates (U+202A to U+202E, U+2066 to U+2069): they reorder the text
/// around them wherever it is shown.
fn is_direction_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

macro_rules! text_newtype {
    ($(#[$doc:meta])* $name:ident, max = $max:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub const MAX_CHARS: usize = $max;

            pub fn parse(raw: &str) -> Result<Self, TextError> {
                plain_text(raw, Self::MAX_CHARS).map(Self)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = TextError;
            fn try_from(raw: String) -> Result<Self, TextError> {
                Self::parse(&raw)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

text_newtype!(
    /// A first or last name, as the attendee wrote it (trimmed).
    PersonName,
    max = 100
);
text_newtype!(
    /// The attendee's company or organization, when given.
    Organization,
    max = 100
);

/// An email address in the practical subset every provider accepts, the one HTML's
/// `input type=email` checks: an ASCII local part of letters, digits and ``.!#$%&'*+/=?^_`{|}~-``
/// without leading, trailing or doubled dots (at most 64 characters), then `@` and a domain name of
/// two or more labels (letters, digits, inner hyphens; at most 63 characters each) whose last label
/// is not a number. No display names, comments, quoted local parts or IP literals; at most 254
/// characters (RFC 5321's path limit).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(raw: &str) -> Result<Self, TextError> {
        let address = plain_text(raw, 254)?;
        let (local, domain) = address.split_once('@').ok_or(TextError::InvalidEmail)?;
        let local_ok = (1..=64).contains(&local.len())
            && local.split('.').all(|atom| {
                !atom.is_empty()
                    && atom
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+/=?^_`{|}~-".contains(&b))
            });
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && labels.iter().all(|label| {
                (1..=63).contains(&label.len())
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            })
            && labels
                .last()
                .is_some_and(|tld| !tld.bytes().all(|b| b.is_ascii_digit()));
        if local_ok && domain_ok {
            Ok(Self(address))
        } else {
            Err(TextError::InvalidEmail)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The address lower-cased, as mailing lists key their members.
    pub fn normalized(&self) -> String {
        self.0.to_lowercase()
    }
}

impl TryFrom<String> for EmailAddress {
    type Error = TextError;
    fn try_from(raw: String) -> Result<Self, TextError> {
        Self::parse(&raw)
    }
}

impl From<EmailAddress> for String {
    fn from(value: EmailAddress) -> String {
        value.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The person who registers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attendee {
    pub first_name: PersonName,
    pub last_name: PersonName,
    pub email: EmailAddress,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<Organization>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cases the page's test walks too (tests/browser/helpers.test.mjs), so that no address
    /// passes one side and fails the other.
    #[test]
    fn email_cases_are_the_pages_too() {
        #[derive(serde::Deserialize)]
        struct Case {
            value: String,
            valid: bool,
        }
        let cases: Vec<Case> = serde_json::from_str(include_str!("../data/email-cases.json"))
            .expect("the cases are JSON");
        assert!(cases.len() > 30);
        for case in cases {
            assert_eq!(
                EmailAddress::parse(&case.value).is_ok(),
                case.valid,
                "{:?}",
                case.value
            );
        }
    }

    #[test]
    fn names_are_trimmed_and_keep_what_people_type() {
        for raw in ["  Ada ", "O'Brien", "Zoë", "<b>Bold</b>", "李"] {
            let name = PersonName::parse(raw).expect(raw);
            assert_eq!(name.as_str(), raw.trim());
        }
    }

    #[test]
    fn names_reject_empty_long_and_control_characters() {
        assert_eq!(PersonName::parse(""), Err(TextError::Empty));
        assert_eq!(PersonName::parse("   "), Err(TextError::Empty));
        assert_eq!(
            PersonName::parse(&"a".repeat(101)),
            Err(TextError::TooLong { max: 100 })
        );
        assert!(
            PersonName::parse(&"é".repeat(100)).is_ok(),
            "length counts characters"
        );
        assert_eq!(
            PersonName::parse("Ada\nLovelace"),
            Err(TextError::ControlCharacter)
        );
        assert_eq!(
            PersonName::parse("Ada\u{0}"),
            Err(TextError::ControlCharacter)
        );
    }

    #[test]
    fn names_must_show_something_and_cannot_reorder_text() {
        for invisible in [
            "\u{200B}",
            "\u{200B}\u{200C}\u{200D}\u{2060}\u{FEFF}",
            "\u{0301}\u{0301}",
            " \u{00AD} ",
            "\u{20DD}",
        ] {
            assert_eq!(
                PersonName::parse(invisible),
                Err(TextError::Empty),
                "{invisible:?}"
            );
        }
        for reordering in ["Ada\u{202E}ecalevol", "\u{2066}Ada\u{2069}", "\u{202A}Ada"] {
            assert_eq!(
                PersonName::parse(reordering),
                Err(TextError::DirectionControl),
                "{reordering:?}"
            );
        }
        for kept in ["José", "Zoe\u{0308}", "Nguyễn", "עדה", "أدا", "Ada\u{200D}"] {
            assert!(PersonName::parse(kept).is_ok(), "{kept:?}");
        }
    }

    #[test]
    fn emails_accept_ordinary_addresses() {
        for raw in [
            "ada@example.org",
            "a.b+tag@sub.example.co.uk",
            " Ada@Example.org ",
            "o'brien@example.ie",
            "x_y-z@my-host.example",
            "1@2.io",
        ] {
            assert!(EmailAddress::parse(raw).is_ok(), "{raw}");
        }
        assert_eq!(
            EmailAddress::parse("Ada@Example.ORG")
                .expect("valid")
                .normalized(),
            "ada@example.org"
        );
    }

    #[test]
    fn emails_reject_each_malformation() {
        for raw in [
            "not-an-email",
            "@example.org",
            "ada@",
            "ada@example",
            "ada@.example.org",
            "ada@example.org.",
            "ada@exa..mple.org",
            "ada@b@example.org",
            "a da@example.org",
            "<a@b.c>",
            "Ada <ada@example.org>",
            "a..b@c.d",
            ".a@b.c",
            "a.@b.c",
            "a@[127.0.0.1]",
            "a@127.0.0.1",
            "a(comment)@b.c",
            "\"quoted\"@example.org",
            "ada@example.org\u{200B}",
            "ad\u{200B}a@example.org",
            "zoë@example.org",
            "ada@bücher.de",
            "ada@-example.org",
            "ada@example-.org",
            "ada@exa_mple.org",
        ] {
            assert_eq!(
                EmailAddress::parse(raw),
                Err(TextError::InvalidEmail),
                "{raw}"
            );
        }
        let long_local = format!("{}@example.org", "a".repeat(65));
        assert_eq!(
            EmailAddress::parse(&long_local),
            Err(TextError::InvalidEmail)
        );
        let too_long = format!("a@{}.org", "b".repeat(250));
        assert_eq!(
            EmailAddress::parse(&too_long),
            Err(TextError::TooLong { max: 254 })
        );
        assert_eq!(EmailAddress::parse(""), Err(TextError::Empty));
    }

    #[test]
    fn deserializing_parses() {
        let bad: Result<EmailAddress, _> = serde_json::from_str("\"nope\"");
        assert!(bad.is_err());
        let good: EmailAddress = serde_json::from_str("\"ada@example.org\"").expect("valid");
        assert_eq!(good.as_str(), "ada@example.org");
    }
}
