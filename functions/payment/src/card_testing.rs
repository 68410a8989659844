//! The defence against card testing: declines counted per client address, per email and per card,
//! and a try refused (`429` with `Retry-After`, before the payment provider is called) once one of
//! them has had its limit of declines within the window.
//!
//! What each limit stops: a tester running many stolen numbers from one machine (the address), or
//! through one attendee's details (the email), or one number through guessed expiry dates and
//! security codes (the card). Only declines count: a paid registration never waits, whoever else
//! was declined. The subjects are stored as keyed fingerprints (HMAC-SHA-256 with
//! `FINGERPRINT_KEY`, a secret like the provider's): the table never holds an address, an email
//! or a card number, and without the key a fingerprint cannot be tested against guesses. An IPv6
//! client counts by its /64, which one subscriber holds whole.
//!
//! The ledger is a port (`clients::declines`) on the idempotency records' database; its rule is
//! the port's too. Which address a request came from is `client_address.rs`'s question.

use std::net::IpAddr;
use std::time::Duration;

use clients::config::{ConfigError, Env};
use clients::declines::Limit;
use domain::Registration;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The defence's settings: the limits, the fingerprints' key, and the secret that proves a request
/// came through CloudFront (AWS only; see `client_address.rs`).
#[derive(Debug, Clone)]
pub struct CardTesting {
    pub limits: DeclineLimits,
    pub key: FingerprintKey,
    pub origin_secret: Option<String>,
}

impl CardTesting {
    /// The limits ([`DeclineLimits::from_env`]), `FINGERPRINT_KEY` and `ORIGIN_VERIFY_SECRET`
    /// (none when unset or empty).
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        Ok(Self {
            limits: DeclineLimits::from_env(env)?,
            key: FingerprintKey::from_env(env)?,
            origin_secret: env.var("ORIGIN_VERIFY_SECRET").filter(|s| !s.is_empty()),
        })
    }
    /// A registration's subjects, each with its limit (those turned off left out): the client's
    /// address when it is known (an IPv6 one by its /64), the attendee's email as compared (lower
    /// case), the card number.
    pub(crate) fn limits(
        &self,
        address: Option<IpAddr>,
        registration: &Registration,
    ) -> Vec<Limit> {
        let address = address.map(|address| match address {
            IpAddr::V4(v4) => v4.octets().to_vec(),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => v4.octets().to_vec(),
                None => v6.octets()[..8].to_vec(),
            },
        });
        let email = registration.attendee.email.normalized();
        let subjects = [
            (
                address.map(|address| self.key.fingerprint("address", &address)),
                self.limits.per_address,
            ),
            (
                Some(self.key.fingerprint("email", email.as_bytes())),
                self.limits.per_email,
            ),
            (
                Some(
                    self.key
                        .fingerprint("card", registration.card.number().as_bytes()),
                ),
                self.limits.per_card,
            ),
        ];
        subjects
            .into_iter()
            .filter_map(|(subject, max_declines)| {
                Some(Limit {
                    subject: subject?,
                    max_declines,
                })
            })
            .filter(|limit| limit.max_declines > 0)
            .collect()
    }
}

/// How many declines each subject may have within the window. A limit of 0 turns it off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeclineLimits {
    pub window: Duration,
    pub per_address: u32,
    pub per_email: u32,
    pub per_card: u32,
}

impl Default for DeclineLimits {
    /// An hour's window: 10 declines from one address (a household or an office mistyping), 5
    /// for one email, 3 for one card (a genuine attendee rarely mistypes a card three times, a
    /// tester guessing its code always does).
    fn default() -> Self {
        Self {
            window: Duration::from_secs(3600),
            per_address: 10,
            per_email: 5,
            per_card: 3,
        }
    }
}

impl DeclineLimits {
    /// `DECLINE_WINDOW_SECONDS`, `DECLINES_PER_ADDRESS`, `DECLINES_PER_EMAIL`,
    /// `DECLINES_PER_CARD`: whole numbers, each defaulting to [`DeclineLimits::default`]'s.
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        let defaults = Self::default();
        let number = |variable: &'static str, default: u64| -> Result<u64, ConfigError> {
            env.var(variable).map_or(Ok(default), |raw| {
                raw.trim().parse().map_err(|_| ConfigError::Invalid {
                    variable,
                    reason: "must be a whole number".into(),
                })
            })
        };
        let count = |variable: &'static str, default: u32| -> Result<u32, ConfigError> {
            u32::try_from(number(variable, default.into())?).map_err(|_| ConfigError::Invalid {
                variable,
                reason: "is too large".into(),
            })
        };
        let window = number("DECLINE_WINDOW_SECONDS", defaults.window.as_secs())?;
        if window == 0 {
            return Err(ConfigError::Invalid {
                variable: "DECLINE_WINDOW_SECONDS",
                reason: "must be at least 1".into(),
            });
        }
        Ok(Self {
            window: Duration::from_secs(window),
            per_address: count("DECLINES_PER_ADDRESS", defaults.per_address)?,
            per_email: count("DECLINES_PER_EMAIL", defaults.per_email)?,
            per_card: count("DECLINES_PER_CARD", defaults.per_card)?,
        })
    }
}

/// The key the subjects are fingerprinted with (`FINGERPRINT_KEY`, at least 32 characters).
#[derive(Clone)]
pub struct FingerprintKey(Vec<u8>);

impl std::fmt::Debug for FingerprintKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FingerprintKey(…)")
    }
}

impl FingerprintKey {
    pub const MIN_LEN: usize = 32;

    /// Reads `FINGERPRINT_KEY`.
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        Self::new(clients::config::required(env, "FINGERPRINT_KEY")?.into_bytes())
    }

    pub fn new(key: Vec<u8>) -> Result<Self, ConfigError> {
        if key.len() < Self::MIN_LEN {
            return Err(ConfigError::Invalid {
                variable: "FINGERPRINT_KEY",
                reason: format!("must be at least {} characters", Self::MIN_LEN),
            });
        }
        Ok(Self(key))
    }

    /// `kind:` and the hex HMAC-SHA-256 of `kind` and `value`.
    fn fingerprint(&self, kind: &str, value: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(kind.as_bytes());
        mac.update(b"\0");
        mac.update(value);
        let digest = mac.finalize().into_bytes();
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        format!("{kind}:{hex}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "a key of at least thirty-two characters";

    #[test]
    fn limits_default_and_are_read_as_whole_numbers() {
        assert_eq!(DeclineLimits::from_env(&[]), Ok(DeclineLimits::default()));
        let limits = DeclineLimits::from_env(&[
            ("DECLINE_WINDOW_SECONDS", "600"),
            ("DECLINES_PER_ADDRESS", "0"),
            ("DECLINES_PER_CARD", "2"),
        ])
        .expect("limits");
        assert_eq!(
            limits,
            DeclineLimits {
                window: Duration::from_secs(600),
                per_address: 0,
                per_email: 5,
                per_card: 2,
            }
        );
        for (variable, raw) in [
            ("DECLINES_PER_EMAIL", "five"),
            ("DECLINES_PER_CARD", "-1"),
            ("DECLINE_WINDOW_SECONDS", "0"),
        ] {
            assert!(
                matches!(
                    DeclineLimits::from_env(&[(variable, raw)]),
                    Err(ConfigError::Invalid { variable: v, .. }) if v == variable
                ),
                "{variable}={raw}"
            );
        }
    }

    #[test]
    fn a_short_or_missing_key_is_refused() {
        assert_eq!(
            FingerprintKey::from_env(&[]).err(),
            Some(ConfigError::Missing("FINGERPRINT_KEY"))
        );
        assert!(FingerprintKey::from_env(&[("FINGERPRINT_KEY", "short")]).is_err());
        assert!(FingerprintKey::from_env(&[("FINGERPRINT_KEY", KEY)]).is_ok());
    }

    #[test]
    fn fingerprints_depend_on_the_key_and_kind_and_hold_no_value() {
        let key = FingerprintKey::new(KEY.into()).expect("key");
        let other = FingerprintKey::new(format!("{KEY}!").into()).expect("key");
        let card = key.fingerprint("card", b"4012888888881881");
        assert!(card.starts_with("card:") && card.len() == 5 + 64, "{card}");
        assert!(!card.contains("1881"));
        assert_eq!(card, key.fingerprint("card", b"4012888888881881"));
        assert_ne!(card, other.fingerprint("card", b"4012888888881881"));
        let hex = |fingerprint: String| fingerprint.split_once(':').expect("kind:hex").1.to_owned();
        assert_ne!(
            hex(key.fingerprint("email", b"x")),
            hex(key.fingerprint("address", b"x")),
            "the kind is part of what is hashed"
        );
    }

    fn registration() -> Registration {
        let body = serde_json::json!({
            "ticket": "conference",
            "attendee": {"firstName": "Ada", "lastName": "Lovelace", "email": "Ada@Example.org"},
            "card": {"name": "Ada Lovelace", "number": "4012888888881881", "expiry": "2099-12", "securityCode": "123"},
            "billingAddress": {"line1": "12 St James's Square", "city": "London", "postalCode": "SW1Y 4JH", "countryCode": "GB"},
            "newsletter": false
        });
        Registration::parse(
            &body,
            &domain::TicketCatalogue::builtin(),
            chrono::Utc::now().date_naive(),
        )
        .expect("a valid registration")
    }

    #[test]
    fn an_ipv6_client_counts_by_its_64_and_a_limit_of_0_is_off() {
        let testing = CardTesting {
            limits: DeclineLimits {
                per_email: 0,
                ..DeclineLimits::default()
            },
            key: FingerprintKey::new(KEY.into()).expect("key"),
            origin_secret: None,
        };
        let registration = registration();
        let subjects =
            |ip: &str| testing.limits(Some(ip.parse().expect("an address")), &registration);
        let (a, b, c) = (
            subjects("2001:db8:1:2::1"),
            subjects("2001:db8:1:2:ffff::9"),
            subjects("2001:db8:1:3::1"),
        );
        assert_eq!(a[0], b[0], "one /64");
        assert_ne!(a[0], c[0], "another /64");
        assert_eq!(
            subjects("::ffff:192.0.2.1")[0],
            subjects("192.0.2.1")[0],
            "a mapped IPv4 is its IPv4"
        );
        let kinds: Vec<&str> = a
            .iter()
            .filter_map(|l| l.subject.split(':').next())
            .collect();
        assert_eq!(kinds, ["address", "card"], "the email's limit is off");
        assert_eq!(
            testing.limits(None, &registration).len(),
            1,
            "no address: the card only"
        );
    }
}
