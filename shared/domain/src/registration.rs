//! A registration request, parsed whole: every field checked, every problem reported at once under
//! the field's dotted path (`attendee.email`, `card.number`), so the site can show each error next
//! to its input.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use secrecy::ExposeSecret;
use serde::Serialize;
use serde_json::Value;

use crate::address::{BillingAddress, CITY_MAX, CountryCode, LINE_MAX, POSTAL_CODE_MAX};
use crate::card::{Brand, Card, CardExpiry};
use crate::text::{Attendee, EmailAddress, Organization, PersonName, plain_text};
use crate::ticket::{Ticket, TicketCatalogue};

/// What a registration request asks for, typed and priced.
#[derive(Debug)]
pub struct Registration {
    pub ticket: Ticket,
    pub attendee: Attendee,
    pub card: Card,
    pub billing_address: BillingAddress,
    pub newsletter: bool,
}

/// Per-field errors, keyed by the field's dotted path in the request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FieldErrors(BTreeMap<String, String>);

impl FieldErrors {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.get(field).map(String::as_str)
    }

    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    fn add(&mut self, field: &str, message: impl ToString) {
        self.0
            .entry(field.to_owned())
            .or_insert_with(|| message.to_string());
    }
}

/// Reads fields out of the request body, recording what is missing or of the wrong type.
struct Fields<'a> {
    body: &'a Value,
    errors: FieldErrors,
}

impl Fields<'_> {
    fn value(&self, path: &str) -> Option<&Value> {
        path.split('.')
            .try_fold(self.body, |v, key| v.get(key))
            .filter(|v| !v.is_null())
    }

    /// A required string field, then `parse` on it; records the error and returns `None` on failure.
    fn parse<T, E: ToString>(
        &mut self,
        path: &str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<T> {
        match self.value(path) {
            None => self.errors.add(path, "is required"),
            Some(Value::String(s)) => match parse(s) {
                Ok(v) => return Some(v),
                Err(e) => self.errors.add(path, e),
            },
            Some(_) => self.errors.add(path, "must be a string"),
        }
        None
    }

    /// An optional string field: absent, null or blank means `None`.
    fn parse_optional<T, E: ToString>(
        &mut self,
        path: &str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<T> {
        match self.value(path) {
            Some(Value::String(s)) if s.trim().is_empty() => None,
            None => None,
            Some(_) => self.parse(path, parse),
        }
    }

    fn boolean(&mut self, path: &str) -> Option<bool> {
        match self.value(path) {
            Some(Value::Bool(b)) => Some(*b),
            None => {
                self.errors.add(path, "is required (true or false)");
                None
            }
            Some(_) => {
                self.errors.add(path, "must be true or false");
                None
            }
        }
    }
}

impl Registration {
    /// Parses a request body. `today` decides whether the card has expired.
    pub fn parse(
        body: &Value,
        catalogue: &TicketCatalogue,
        today: NaiveDate,
    ) -> Result<Self, FieldErrors> {
        let mut f = Fields {
            body,
            errors: FieldErrors::default(),
        };
        if !body.is_object() {
            f.errors.add("body", "must be a JSON object");
            return Err(f.errors);
        }
        let ticket = f.parse("ticket", |id| catalogue.price(id).cloned());
        let first_name = f.parse("attendee.firstName", PersonName::parse);
        let last_name = f.parse("attendee.lastName", PersonName::parse);
        let email = f.parse("attendee.email", EmailAddress::parse);
        let organization = f.parse_optional("attendee.organization", Organization::parse);
        let card_name = f.parse("card.name", |s| plain_text(s, 300));
        let number = f.parse("card.number", Card::parse_number);
        let expiry = f.parse("card.expiry", |s| CardExpiry::parse(s, today));
        let brand = number.as_ref().map(|n| Brand::of(n.expose_secret()));
        let security_code = f.parse("card.securityCode", |s| Card::parse_security_code(s, brand));
        let line1 = f.parse("billingAddress.line1", |s| plain_text(s, LINE_MAX));
        let city = f.parse("billingAddress.city", |s| plain_text(s, CITY_MAX));
        let postal_code = f.parse("billingAddress.postalCode", |s| {
            plain_text(s, POSTAL_CODE_MAX)
        });
        let country_code = f.parse("billingAddress.countryCode", CountryCode::parse);
        let newsletter = f.boolean("newsletter");

        match (
            ticket,
            first_name,
            last_name,
            email,
            card_name,
            number,
            expiry,
            security_code,
            line1,
            city,
            postal_code,
            country_code,
            newsletter,
        ) {
            (
                Some(ticket),
                Some(first_name),
                Some(last_name),
                Some(email),
                Some(card_name),
                Some(number),
                Some(expiry),
                Some(security_code),
                Some(line1),
                Some(city),
                Some(postal_code),
                Some(country_code),
                Some(newsletter),
            ) if f.errors.is_empty() => Ok(Registration {
                ticket,
                attendee: Attendee {
                    first_name,
                    last_name,
                    email,
                    organization,
                },
                card: Card::new(card_name, number, expiry, security_code),
                billing_address: BillingAddress {
                    line1,
                    city,
                    postal_code,
                    country_code,
                },
                newsletter,
            }),
            _ => Err(f.errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 26).expect("valid date")
    }

    fn valid() -> Value {
        json!({
            "ticket": "conference",
            "attendee": {"firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.org", "organization": "Analytical Engines"},
            "card": {"name": "Ada Lovelace", "number": "4012 8888 8888 1881", "expiry": "2030-12", "securityCode": "123"},
            "billingAddress": {"line1": "12 St James's Square", "city": "London", "postalCode": "SW1Y 4JH", "countryCode": "gb"},
            "newsletter": true
        })
    }

    fn errors(body: Value) -> FieldErrors {
        Registration::parse(&body, &TicketCatalogue::builtin(), today()).expect_err("invalid")
    }

    #[test]
    fn a_valid_request_is_priced_from_the_catalogue() {
        let r = Registration::parse(&valid(), &TicketCatalogue::builtin(), today()).expect("valid");
        assert_eq!(r.ticket.price.value(), "250.00");
        assert_eq!(
            r.attendee.organization.as_ref().map(|o| o.as_str()),
            Some("Analytical Engines")
        );
        assert_eq!(r.card.last_digits(), "1881");
        assert_eq!(r.billing_address.country_code.as_str(), "GB");
        assert!(r.newsletter);
    }

    #[test]
    fn a_client_sent_price_is_ignored() {
        let mut body = valid();
        body["price"] = json!({"value": "0.01", "currency": "USD"});
        let r = Registration::parse(&body, &TicketCatalogue::builtin(), today()).expect("valid");
        assert_eq!(r.ticket.price.value(), "250.00");
    }

    #[test]
    fn organization_is_optional() {
        let mut body = valid();
        body["attendee"]
            .as_object_mut()
            .expect("object")
            .remove("organization");
        assert!(Registration::parse(&body, &TicketCatalogue::builtin(), today()).is_ok());
        body["attendee"]["organization"] = json!("  ");
        assert!(Registration::parse(&body, &TicketCatalogue::builtin(), today()).is_ok());
    }

    #[test]
    fn each_field_is_rejected_under_its_own_path() {
        let cases: &[(&str, Value, &str)] = &[
            ("ticket", json!("nope"), "is not a ticket on sale"),
            ("attendee.firstName", json!(""), "is required"),
            ("attendee.lastName", json!(42), "must be a string"),
            (
                "attendee.email",
                json!("not-an-email"),
                "must be a valid email address, like name@example.org",
            ),
            (
                "attendee.organization",
                json!("x".repeat(101)),
                "must be at most 100 characters",
            ),
            ("card.name", json!(" "), "is required"),
            (
                "card.number",
                json!("4012888888881882"),
                "is not a valid card number (check the digits)",
            ),
            ("card.expiry", json!("2020-01"), "has expired"),
            (
                "card.securityCode",
                json!("12"),
                "must be the 3 or 4 digits on the card",
            ),
            ("billingAddress.line1", json!(""), "is required"),
            (
                "billingAddress.city",
                json!("a\u{7}b"),
                "must not contain control characters",
            ),
            (
                "billingAddress.postalCode",
                json!("x".repeat(17)),
                "must be at most 16 characters",
            ),
            (
                "billingAddress.countryCode",
                json!("GBR"),
                "must be a two-letter country code, like GB or US",
            ),
            ("newsletter", json!("yes"), "must be true or false"),
            (
                "card.securityCode",
                json!("1234"),
                "must be the 3 digits on the back of a Visa card",
            ),
            (
                "card.number",
                json!("401288888881"),
                "must be 13 to 19 digits",
            ),
            (
                "billingAddress.countryCode",
                json!("XX"),
                "must be a two-letter country code, like GB or US",
            ),
            (
                "attendee.firstName",
                json!("\u{200B}\u{0301}"),
                "is required",
            ),
            (
                "attendee.lastName",
                json!("Love\u{202E}ecal"),
                "must not contain text-direction control characters",
            ),
            (
                "attendee.email",
                json!("a..b@example.org"),
                "must be a valid email address, like name@example.org",
            ),
        ];
        for (path, value, message) in cases {
            let mut body = valid();
            let mut target = &mut body;
            let mut parts = path.split('.').peekable();
            while let Some(part) = parts.next() {
                if parts.peek().is_none() {
                    target[part] = value.clone();
                } else {
                    target = &mut target[part];
                }
            }
            let errors = errors(body);
            assert_eq!(errors.get(path), Some(*message), "{path}");
            assert_eq!(
                errors.fields().count(),
                1,
                "{path}: only that field is wrong, got {errors:?}"
            );
        }
    }

    #[test]
    fn every_missing_field_is_reported_at_once() {
        let errors = errors(json!({}));
        let fields: Vec<_> = errors.fields().collect();
        assert_eq!(
            fields,
            [
                "attendee.email",
                "attendee.firstName",
                "attendee.lastName",
                "billingAddress.city",
                "billingAddress.countryCode",
                "billingAddress.line1",
                "billingAddress.postalCode",
                "card.expiry",
                "card.name",
                "card.number",
                "card.securityCode",
                "newsletter",
                "ticket",
            ]
        );
    }

    #[test]
    fn a_body_that_is_not_an_object_is_rejected() {
        assert_eq!(
            errors(json!([1, 2])).get("body"),
            Some("must be a JSON object")
        );
    }
}
