//! Property tests of the parsers that meet untrusted input: whatever arrives, they never panic,
//! every error names a field the request has, and what parses parses again to itself.

use chrono::NaiveDate;
use domain::{
    Attendee, Card, CountryCode, EmailAddress, Organization, PersonName, Registration,
    TicketCatalogue,
};
use proptest::prelude::*;
use serde_json::{Value, json};

/// Every field path a registration error may name.
const FIELDS: [&str; 15] = [
    "body",
    "ticket",
    "attendee.firstName",
    "attendee.lastName",
    "attendee.email",
    "attendee.organization",
    "card.name",
    "card.number",
    "card.expiry",
    "card.securityCode",
    "billingAddress.line1",
    "billingAddress.city",
    "billingAddress.postalCode",
    "billingAddress.countryCode",
    "newsletter",
];

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 30).expect("a date")
}

/// Strings that reach the edges: ASCII, any Unicode, invisible and direction characters, digits
/// with separators, near-valid emails.
fn text() -> impl Strategy<Value = String> {
    let tricky = prop::sample::select(vec![
        '\u{200B}', '\u{202E}', '\u{2066}', '\u{0301}', '\u{FEFF}', '\u{00AD}', '\0', '\n', ' ',
        '@', '.', '-', '<', '"', '4', '1', 'é', '李', '🔑',
    ]);
    prop_oneof![
        any::<String>(),
        prop::collection::vec(tricky, 0..24).prop_map(|chars| chars.into_iter().collect()),
        "[a-z.]{0,6}@[a-z.-]{0,8}",
        "[0-9 -]{0,24}",
        "[0-9]{4}-[0-9]{2}",
    ]
}

/// A JSON value of any type, often a string.
fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => text().prop_map(Value::String),
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::Bool),
        1 => any::<i64>().prop_map(|n| json!(n)),
        1 => Just(json!({})),
        1 => Just(json!([])),
    ]
}

fn registration() -> impl Strategy<Value = Value> {
    (
        prop::collection::vec(value(), 13),
        prop::option::of(value()),
    )
        .prop_map(|(v, organization)| {
            let mut attendee = json!({"firstName": v[1], "lastName": v[2], "email": v[3]});
            if let Some(organization) = organization {
                attendee["organization"] = organization;
            }
            json!({
                "ticket": v[0],
                "attendee": attendee,
                "card": {"name": v[4], "number": v[5], "expiry": v[6], "securityCode": v[7]},
                "billingAddress": {"line1": v[8], "city": v[9], "postalCode": v[10], "countryCode": v[11]},
                "newsletter": v[12],
            })
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn a_registration_never_panics_and_every_error_names_a_field(body in registration()) {
        if let Err(errors) = Registration::parse(&body, &TicketCatalogue::builtin(), today()) {
            prop_assert!(!errors.is_empty());
            for field in errors.fields() {
                prop_assert!(FIELDS.contains(&field), "unknown field {field}");
                prop_assert!(!errors.get(field).unwrap_or_default().is_empty());
            }
        }
    }

    #[test]
    fn a_body_that_is_not_an_object_is_one_error_on_the_body(body in value()) {
        if !body.is_object() {
            let errors = Registration::parse(&body, &TicketCatalogue::builtin(), today())
                .expect_err("not an object");
            prop_assert_eq!(errors.fields().collect::<Vec<_>>(), vec!["body"]);
        }
    }

    #[test]
    fn text_values_that_parse_parse_again_to_themselves(raw in text()) {
        if let Ok(name) = PersonName::parse(&raw) {
            prop_assert_eq!(PersonName::parse(name.as_str()), Ok(name.clone()));
            let reorders = |c: char| ('\u{202A}'..='\u{202E}').contains(&c);
            prop_assert!(!name.as_str().chars().any(|c| c.is_control() || reorders(c)));
        }
        if let Ok(organization) = Organization::parse(&raw) {
            prop_assert_eq!(Organization::parse(organization.as_str()), Ok(organization.clone()));
        }
        if let Ok(email) = EmailAddress::parse(&raw) {
            prop_assert_eq!(EmailAddress::parse(email.as_str()), Ok(email.clone()));
            prop_assert!(email.as_str().is_ascii() && email.as_str().matches('@').count() == 1);
        }
        if let Ok(country) = CountryCode::parse(&raw) {
            prop_assert_eq!(CountryCode::parse(country.as_str()), Ok(country.clone()));
        }
    }

    #[test]
    fn card_numbers_that_parse_have_their_brands_length(raw in text()) {
        if let Ok(number) = Card::parse_number(&raw) {
            use secrecy::ExposeSecret;
            let digits = number.expose_secret();
            prop_assert!((13..=19).contains(&digits.len()));
            prop_assert!(domain::Brand::of(digits).lengths().contains(&digits.len()));
        }
    }

    #[test]
    fn an_attendee_round_trips_through_json(first in text(), last in text(), local in "[a-z]{1,10}", organization in prop::option::of(text())) {
        let (Ok(first_name), Ok(last_name)) = (PersonName::parse(&first), PersonName::parse(&last)) else {
            return Ok(());
        };
        let attendee = Attendee {
            first_name,
            last_name,
            email: EmailAddress::parse(&format!("{local}@example.org")).expect("valid"),
            organization: organization.and_then(|o| Organization::parse(&o).ok()),
        };
        let json = serde_json::to_string(&attendee).expect("serializes");
        let back: Attendee = serde_json::from_str(&json).expect("parses back");
        prop_assert_eq!(back, attendee);
    }
}
