//! Tickets and their prices. Prices live on the server, in a catalogue file compiled into the
//! binary (`data/tickets.json`); a request names a ticket, never a price.

use crate::money::Money;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A ticket type's id: lower-case letters, digits and dashes, 1 to 64 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TicketId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TicketError {
    #[error("is not a ticket id")]
    InvalidId,
    #[error("is not a ticket on sale")]
    Unknown,
}

impl TicketId {
    pub fn parse(raw: &str) -> Result<Self, TicketError> {
        let ok = (1..=64).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(TicketError::InvalidId)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for TicketId {
    type Error = TicketError;
    fn try_from(raw: String) -> Result<Self, TicketError> {
        Self::parse(&raw)
    }
}

impl From<TicketId> for String {
    fn from(id: TicketId) -> String {
        id.0
    }
}

impl fmt::Display for TicketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A ticket type on sale.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ticket {
    pub id: TicketId,
    pub name: String,
    pub description: String,
    pub price: Money,
}

/// The tickets on sale for one conference, and what an attendee buys into: its name, when and
/// where it takes place (the site shows them from `GET /api/tickets`, not from its own copy).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketCatalogue {
    pub conference: String,
    pub dates: ConferenceDates,
    /// The venue and its city, as a line.
    pub venue: String,
    pub tickets: Vec<Ticket>,
}

/// The conference's first and last days (ISO 8601 dates: `2027-05-20`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConferenceDates {
    pub start: chrono::NaiveDate,
    pub end: chrono::NaiveDate,
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    #[error("ticket catalogue is not valid JSON of the expected shape")]
    Malformed(#[from] serde_json::Error),
    #[error("ticket catalogue lists no tickets")]
    Empty,
    #[error("ticket catalogue lists {0} twice")]
    Duplicate(TicketId),
    #[error("the conference ends ({end}) before it starts ({start})")]
    Dates {
        start: chrono::NaiveDate,
        end: chrono::NaiveDate,
    },
}

impl TicketCatalogue {
    /// The catalogue shipped with the project (`shared/domain/data/tickets.json`).
    pub fn builtin() -> Self {
        Self::from_json(include_str!("../data/tickets.json"))
            .expect("the built-in catalogue is valid: checked by a unit test")
    }

    pub fn from_json(json: &str) -> Result<Self, CatalogueError> {
        let catalogue: TicketCatalogue = serde_json::from_str(json)?;
        if catalogue.tickets.is_empty() {
            return Err(CatalogueError::Empty);
        }
        let ConferenceDates { start, end } = catalogue.dates;
        if end < start {
            return Err(CatalogueError::Dates { start, end });
        }
        for (i, ticket) in catalogue.tickets.iter().enumerate() {
            if catalogue.tickets[..i].iter().any(|t| t.id == ticket.id) {
                return Err(CatalogueError::Duplicate(ticket.id.clone()));
            }
        }
        Ok(catalogue)
    }

    /// The ticket a request names, or why it cannot be sold.
    pub fn price(&self, raw_id: &str) -> Result<&Ticket, TicketError> {
        let id = TicketId::parse(raw_id).map_err(|_| TicketError::Unknown)?;
        self.tickets
            .iter()
            .find(|t| t.id == id)
            .ok_or(TicketError::Unknown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalogue_has_several_priced_tickets() {
        let catalogue = TicketCatalogue::builtin();
        assert!(catalogue.tickets.len() >= 2);
        assert!(catalogue.dates.start <= catalogue.dates.end);
        assert!(!catalogue.venue.is_empty());
        let conference = catalogue.price("conference").expect("on sale");
        assert_eq!(conference.price.value(), "250.00");
    }

    #[test]
    fn unknown_or_malformed_ids_are_not_on_sale() {
        let catalogue = TicketCatalogue::builtin();
        for raw in ["nope", "", "Conference", "conference ", "../etc"] {
            assert_eq!(catalogue.price(raw), Err(TicketError::Unknown), "{raw}");
        }
    }

    #[test]
    fn catalogue_rejects_empty_duplicate_and_malformed_files() {
        let about =
            r#""conference":"c","dates":{"start":"2027-05-20","end":"2027-05-21"},"venue":"v""#;
        assert!(matches!(
            TicketCatalogue::from_json(&format!(r#"{{{about},"tickets":[]}}"#)),
            Err(CatalogueError::Empty)
        ));
        let t =
            r#"{"id":"a","name":"A","description":"","price":{"value":"1.00","currency":"USD"}}"#;
        let dup = format!(r#"{{{about},"tickets":[{t},{t}]}}"#);
        assert!(matches!(
            TicketCatalogue::from_json(&dup),
            Err(CatalogueError::Duplicate(_))
        ));
        let bad_price = format!(
            r#"{{{about},"tickets":[{{"id":"a","name":"A","description":"","price":{{"value":"1","currency":"USD"}}}}]}}"#
        );
        assert!(matches!(
            TicketCatalogue::from_json(&bad_price),
            Err(CatalogueError::Malformed(_))
        ));
        let single = format!(r#"{{{about},"tickets":[{t}]}}"#);
        assert!(
            TicketCatalogue::from_json(&single).is_ok(),
            "the cases differ only where they say"
        );
    }

    #[test]
    fn a_conference_that_ends_before_it_starts_is_refused() {
        let mut catalogue: serde_json::Value =
            serde_json::from_str(include_str!("../data/tickets.json")).expect("JSON");
        catalogue["dates"] = serde_json::json!({"start": "2027-05-21", "end": "2027-05-20"});
        assert!(matches!(
            TicketCatalogue::from_json(&catalogue.to_string()),
            Err(CatalogueError::Dates { .. })
        ));
    }
}
