//! The email sender over SendGrid's v3 Mail Send API (`POST /v3/mail/send`).
//!
//! The client is a concrete struct built from a base URL, a timeout and a secret, not a trait
//! object with a hidden transport, so that tests and the emulator point it at a local HTTP server
//! and exercise the exact bytes the real service would get. Switching to the real service is only
//! configuration: `SENDGRID_BASE_URL=https://api.sendgrid.com` (EU subusers:
//! `https://api.eu.sendgrid.com`) and a real `SENDGRID_API_KEY`.
//!
//! It makes one attempt per call and says whether a retry can help: the registration workflow's
//! `Retry` retries `Unavailable` (429, 5xx, unreachable, too slow) and fails fast on `Rejected`
//! (any other 4xx: a bad key, a bad address, a body too large). With `SENDGRID_SANDBOX_MODE=true`
//! SendGrid validates the request and answers 200 without delivering anything.
//!
//! The HTTP plumbing (one attempt with a timeout, retryable or terminal) is shared with the other
//! provider clients in `crate::exchange`.

use std::time::Duration;

use async_trait::async_trait;
use domain::{EmailAddress, OrderId};
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::config::{self, ConfigError, Env};
use crate::email::{EmailSender, OutgoingEmail, SendError};
use crate::exchange::{self, Failure};

/// Where and how to send. `Debug` shows the key as `[REDACTED]`.
#[derive(Debug, Clone)]
pub struct SendGridConfig {
    /// `https://api.sendgrid.com` for the real service.
    pub base_url: String,
    pub api_key: SecretString,
    /// The sender; SendGrid only accepts a verified sender identity.
    pub from: EmailAddress,
    pub from_name: Option<String>,
    /// Ask SendGrid to validate only, never deliver (it answers 200 instead of 202).
    pub sandbox_mode: bool,
    /// For the whole call, connecting included. 10 s by default.
    pub timeout: Duration,
}

impl SendGridConfig {
    /// Reads `SENDGRID_BASE_URL`, `SENDGRID_API_KEY`, `EMAIL_FROM` (`addr` or `Name <addr>`), and
    /// the optional `SENDGRID_SANDBOX_MODE` (`true`/`false`, default false) and
    /// `SENDGRID_TIMEOUT_MS` (default 10 000).
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        const BASE_URL: &str = "SENDGRID_BASE_URL";
        const FROM: &str = "EMAIL_FROM";
        const SANDBOX: &str = "SENDGRID_SANDBOX_MODE";
        let base_url = config::base_url(env, BASE_URL)?.ok_or(ConfigError::Missing(BASE_URL))?;
        let api_key = config::secret(env, "SENDGRID_API_KEY")?;
        let (from, from_name) =
            parse_sender(&config::required(env, FROM)?).map_err(|reason| ConfigError::Invalid {
                variable: FROM,
                reason,
            })?;
        let sandbox_mode = match env.var(SANDBOX) {
            None => false,
            Some(raw) if raw.eq_ignore_ascii_case("true") => true,
            Some(raw) if raw.eq_ignore_ascii_case("false") => false,
            Some(_) => {
                return Err(ConfigError::Invalid {
                    variable: SANDBOX,
                    reason: "must be true or false".into(),
                });
            }
        };
        let timeout = config::millis(env, "SENDGRID_TIMEOUT_MS", exchange::DEFAULT_TIMEOUT)?;
        Ok(Self {
            base_url,
            api_key,
            from,
            from_name,
            sandbox_mode,
            timeout,
        })
    }

    /// The variables [`SendGridConfig::from_env`] reads back as this configuration.
    pub fn to_env(&self) -> Vec<(&'static str, String)> {
        let from = match &self.from_name {
            Some(name) => format!("\"{name}\" <{}>", self.from.as_str()),
            None => self.from.as_str().to_owned(),
        };
        vec![
            ("SENDGRID_BASE_URL", self.base_url.clone()),
            ("SENDGRID_API_KEY", self.api_key.expose_secret().to_owned()),
            ("EMAIL_FROM", from),
            ("SENDGRID_SANDBOX_MODE", self.sandbox_mode.to_string()),
            ("SENDGRID_TIMEOUT_MS", self.timeout.as_millis().to_string()),
        ]
    }
}

/// `addr` or `Name <addr>` (the name may be quoted).
fn parse_sender(raw: &str) -> Result<(EmailAddress, Option<String>), String> {
    let raw = raw.trim();
    let (name, address) = match raw.strip_suffix('>').and_then(|r| r.rsplit_once('<')) {
        Some((name, address)) => (name.trim().trim_matches('"').trim(), address),
        None => ("", raw),
    };
    let address = EmailAddress::parse(address)
        .map_err(|e| format!("{e} (or \"Name <name@example.org>\")"))?;
    Ok((address, (!name.is_empty()).then(|| name.to_owned())))
}

/// Sends through SendGrid; see the module documentation.
#[derive(Debug, Clone)]
pub struct SendGridClient {
    config: SendGridConfig,
    http: reqwest::Client,
}

impl SendGridClient {
    pub fn new(config: SendGridConfig) -> Self {
        Self {
            config,
            http: reqwest::Client::new(),
        }
    }

    async fn post(&self, email: &OutgoingEmail) -> Result<(), Failure> {
        let request = self
            .http
            .post(format!("{}/v3/mail/send", self.config.base_url))
            .bearer_auth(self.config.api_key.expose_secret())
            .timeout(self.config.timeout)
            .json(&MailSend::new(&self.config, email));
        let (status, body) = exchange::send(request).await?;
        match status {
            StatusCode::ACCEPTED => Ok(()),
            StatusCode::OK if self.config.sandbox_mode => {
                tracing::info!(
                    order_id = %email.order_id,
                    "SendGrid sandbox mode: the email was validated, not sent"
                );
                Ok(())
            }
            status if status.is_client_error() || status.is_server_error() => {
                Err(exchange::for_status(status, error_messages(&body), &body))
            }
            status => Err(Failure::Terminal(format!(
                "unexpected HTTP {status}: SendGrid answers 202, or 200 in sandbox mode"
            ))),
        }
    }
}

#[async_trait]
impl EmailSender for SendGridClient {
    async fn send(&self, email: &OutgoingEmail) -> Result<(), SendError> {
        match self.post(email).await {
            Ok(()) => Ok(()),
            Err(Failure::Retryable(error)) => {
                tracing::warn!(order_id = %email.order_id, %error, "SendGrid unavailable");
                Err(SendError::Unavailable(error))
            }
            Err(Failure::Terminal(error)) => {
                tracing::error!(order_id = %email.order_id, %error, "SendGrid rejected the email");
                Err(SendError::Rejected(error))
            }
        }
    }
}

/// The Mail Send body. `custom_args` sits in the personalization, where the spec types it as an
/// object (its top-level `custom_args` is typed `string`, a spec error); for a single
/// personalization the two are the same to SendGrid and its event webhook.
#[derive(Serialize)]
struct MailSend<'a> {
    personalizations: [Personalization<'a>; 1],
    from: Address<'a>,
    subject: &'a str,
    /// `text/plain` first: SendGrid requires that order.
    content: [Content<'a>; 2],
    #[serde(skip_serializing_if = "Option::is_none")]
    mail_settings: Option<MailSettings>,
}

#[derive(Serialize)]
struct Personalization<'a> {
    to: [Address<'a>; 1],
    custom_args: CustomArgs,
}

#[derive(Serialize)]
struct CustomArgs {
    order_id: OrderId,
}

#[derive(Serialize)]
struct Address<'a> {
    email: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
}

#[derive(Serialize)]
struct Content<'a> {
    #[serde(rename = "type")]
    mime_type: &'static str,
    value: &'a str,
}

#[derive(Serialize)]
struct MailSettings {
    sandbox_mode: Setting,
}

#[derive(Serialize)]
struct Setting {
    enable: bool,
}

impl<'a> MailSend<'a> {
    fn new(config: &'a SendGridConfig, email: &'a OutgoingEmail) -> Self {
        Self {
            personalizations: [Personalization {
                to: [Address {
                    email: email.to.as_str(),
                    name: Some(email.to_name.as_str()).filter(|name| !name.is_empty()),
                }],
                custom_args: CustomArgs {
                    order_id: email.order_id,
                },
            }],
            from: Address {
                email: config.from.as_str(),
                name: config.from_name.as_deref(),
            },
            subject: &email.subject,
            content: [
                Content {
                    mime_type: "text/plain",
                    value: &email.text,
                },
                Content {
                    mime_type: "text/html",
                    value: &email.html,
                },
            ],
            mail_settings: config.sandbox_mode.then_some(MailSettings {
                sandbox_mode: Setting { enable: true },
            }),
        }
    }
}

/// SendGrid's error document: `{"errors": [{"message", "field", "help"}], "id"?}`.
#[derive(Deserialize)]
struct ErrorDocument {
    #[serde(default)]
    errors: Vec<ErrorItem>,
}

#[derive(Deserialize)]
struct ErrorItem {
    message: Option<String>,
}

/// The `errors[].message`s joined, when the body is SendGrid's error document and has any.
fn error_messages(body: &str) -> Option<String> {
    let document: ErrorDocument = serde_json::from_str(body).ok()?;
    let messages: Vec<String> = document
        .errors
        .into_iter()
        .filter_map(|error| error.message)
        .collect();
    (!messages.is_empty()).then(|| messages.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_it_writes_reads_back_the_same() {
        let env = [
            ("SENDGRID_BASE_URL", "http://127.0.0.1:9/sendgrid"),
            ("SENDGRID_API_KEY", "SG.key"),
            ("EMAIL_FROM", "RustConf <hi@conf.example>"),
            ("SENDGRID_SANDBOX_MODE", "true"),
            ("SENDGRID_TIMEOUT_MS", "1500"),
        ];
        let config = SendGridConfig::from_env(&env).expect("valid");
        let again = SendGridConfig::from_env(&config.to_env()).expect("reads back");
        assert_eq!(format!("{again:?}"), format!("{config:?}"));
        assert_eq!(again.api_key.expose_secret(), "SG.key");
        assert_eq!(again.from_name.as_deref(), Some("RustConf"));
    }

    #[test]
    fn sender_is_an_address_or_a_name_and_an_address() {
        let (address, name) = parse_sender("registrations@conf.example").expect("plain");
        assert_eq!(
            (address.as_str(), name),
            ("registrations@conf.example", None)
        );
        let (address, name) = parse_sender(" \"RustConf\" <hi@conf.example> ").expect("named");
        assert_eq!(
            (address.as_str(), name.as_deref()),
            ("hi@conf.example", Some("RustConf"))
        );
        let (_, name) = parse_sender("<hi@conf.example>").expect("empty name");
        assert_eq!(name, None);
        assert!(parse_sender("RustConf <not-an-address>").is_err());
        assert!(parse_sender("RustConf hi@conf.example").is_err());
    }

    #[test]
    fn error_messages_are_joined_and_absent_without_a_document() {
        let body = r#"{"errors":[{"message":"a","field":"x"},{"field":null},{"message":"b"}]}"#;
        assert_eq!(error_messages(body).as_deref(), Some("a; b"));
        assert_eq!(error_messages(r#"{"errors":[]}"#), None);
        assert_eq!(error_messages("<html>bad gateway</html>"), None);
    }
}
