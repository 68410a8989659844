//! Text values typed by what they mean: a person's name, an email address, an organization.
//!
//! Each rejects what would break a receipt, an email header or a mailing list (empty values, control
//! characters, absurd lengths) and nothing a real person might type: names may hold apostrophes,
//! accents, even angle brackets, because every output escapes them.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a text value was rejected; the message is written for the person who typed it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("is required")]
    Empty,
    #[error("must be at most {max} characters")]
    TooLong { max: usize },
    #[error("must not contain control characters")]
    ControlCharacter,
    #[error("must be a valid email address, like name@example.org")]
    InvalidEmail,
}

/// Trims, then checks emptiness, length (in characters) and control characters.
pub(crate) fn plain_text(raw: &str, max: usize) -> Result<String, TextError> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(TextError::Empty);
    }
    if trimmed.chars().count() > max {
        return Err(TextError::TooLong { max });
    }
    if trimmed.chars().any(char::is_control) {
        return Err(TextError::ControlCharacter);
    }
    Ok(trimmed.to_owned())
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

/// An email address: one `@`, a non-empty local part of at most 64 characters, a domain with a dot,
/// no spaces, at most 254 characters (RFC 5321's path limit).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(raw: &str) -> Result<Self, TextError> {
        let address = plain_text(raw, 254)?;
        let (local, domain) = address.split_once('@').ok_or(TextError::InvalidEmail)?;
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && !domain.contains('@');
        if local.is_empty()
            || local.len() > 64
            || !domain_ok
            || address.contains(char::is_whitespace)
        {
            return Err(TextError::InvalidEmail);
        }
        Ok(Self(address))
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
    fn emails_accept_ordinary_addresses() {
        for raw in [
            "ada@example.org",
            "a.b+tag@sub.example.co.uk",
            " Ada@Example.org ",
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
