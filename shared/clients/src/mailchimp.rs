//! The mailing-list audience over Mailchimp's Marketing API 3.0: "add or update list member",
//! `PUT /3.0/lists/{list_id}/members/{subscriber_hash}`, an upsert, so a retried step is harmless.
//!
//! The client is a concrete struct built from a base URL, a timeout and a secret, so that tests and
//! the emulator point it at a local HTTP server and exercise the exact request the real service
//! would get. Switching to the real service is only configuration: a real `MAILCHIMP_API_KEY`
//! (its `-us6`-style suffix names the data centre, and so the base URL) and `MAILCHIMP_LIST_ID`,
//! with `MAILCHIMP_BASE_URL` left unset.
//!
//! New members get `status_if_new` (`subscribed`, or `pending` for Mailchimp's double opt-in);
//! an existing member's status is never changed, so someone who unsubscribed stays unsubscribed.
//! One attempt per call: the workflow's `Retry` retries `Unavailable` (429, 5xx, unreachable, too
//! slow) and fails fast on `Rejected` (other 4xx, with the problem document's explanation). The
//! HTTP plumbing is shared with the SendGrid client (`crate::exchange`).

use std::time::Duration;

use async_trait::async_trait;
use domain::EmailAddress;
use md5::{Digest, Md5};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::audience::{Audience, AudienceError, Member};
use crate::config::{self, ConfigError, Env};
use crate::exchange::{self, Failure};

/// The Basic-auth user name; Mailchimp ignores it and authenticates with the key (the password).
const USERNAME: &str = "registration";

/// The status a member gets if the address is new to the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StatusIfNew {
    Subscribed,
    /// Double opt-in: Mailchimp emails a confirmation link first.
    Pending,
}

/// Where and how to upsert members. `Debug` shows the key as `[REDACTED]`.
#[derive(Debug, Clone)]
pub struct MailchimpConfig {
    /// `https://<dc>.api.mailchimp.com` for the real service, without `/3.0`.
    pub base_url: String,
    pub api_key: SecretString,
    /// The audience id.
    pub list_id: String,
    pub status_if_new: StatusIfNew,
    /// For the whole call, connecting included. 10 s by default.
    pub timeout: Duration,
}

impl MailchimpConfig {
    /// Reads `MAILCHIMP_API_KEY`, `MAILCHIMP_LIST_ID`, and the optional `MAILCHIMP_BASE_URL`
    /// (default: `https://<dc>.api.mailchimp.com`, `<dc>` being the key's suffix after its last
    /// `-`), `MAILCHIMP_STATUS_IF_NEW` (`subscribed` or `pending`, default subscribed) and
    /// `MAILCHIMP_TIMEOUT_MS` (default 10 000).
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        const API_KEY: &str = "MAILCHIMP_API_KEY";
        const LIST_ID: &str = "MAILCHIMP_LIST_ID";
        const STATUS: &str = "MAILCHIMP_STATUS_IF_NEW";
        let api_key = config::secret(env, API_KEY)?;
        let base_url = match config::base_url(env, "MAILCHIMP_BASE_URL")? {
            Some(url) => url,
            None => {
                let dc =
                    data_centre(api_key.expose_secret()).ok_or_else(|| ConfigError::Invalid {
                        variable: API_KEY,
                        reason: "does not end with a data centre such as -us6; \
                             set MAILCHIMP_BASE_URL or use a Marketing API key"
                            .into(),
                    })?;
                format!("https://{dc}.api.mailchimp.com")
            }
        };
        let list_id = config::required(env, LIST_ID)?;
        if !list_id.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(ConfigError::Invalid {
                variable: LIST_ID,
                reason: "must be an audience id: letters and digits only".into(),
            });
        }
        let status_if_new = match env.var(STATUS).as_deref() {
            None | Some("subscribed") => StatusIfNew::Subscribed,
            Some("pending") => StatusIfNew::Pending,
            Some(_) => {
                return Err(ConfigError::Invalid {
                    variable: STATUS,
                    reason: "must be subscribed or pending".into(),
                });
            }
        };
        let timeout = config::millis(env, "MAILCHIMP_TIMEOUT_MS", exchange::DEFAULT_TIMEOUT)?;
        Ok(Self {
            base_url,
            api_key,
            list_id,
            status_if_new,
            timeout,
        })
    }

    /// The variables [`MailchimpConfig::from_env`] reads back as this configuration.
    pub fn to_env(&self) -> Vec<(&'static str, String)> {
        let status = match self.status_if_new {
            StatusIfNew::Subscribed => "subscribed",
            StatusIfNew::Pending => "pending",
        };
        vec![
            ("MAILCHIMP_BASE_URL", self.base_url.clone()),
            ("MAILCHIMP_API_KEY", self.api_key.expose_secret().to_owned()),
            ("MAILCHIMP_LIST_ID", self.list_id.clone()),
            ("MAILCHIMP_STATUS_IF_NEW", status.to_owned()),
            ("MAILCHIMP_TIMEOUT_MS", self.timeout.as_millis().to_string()),
        ]
    }
}

/// The data centre a Marketing API key names after its last `-` (`…-us6` → `us6`).
fn data_centre(api_key: &str) -> Option<&str> {
    api_key
        .rsplit_once('-')
        .map(|(_, dc)| dc)
        .filter(|dc| !dc.is_empty() && dc.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// How Mailchimp names a member in URLs: the MD5 of the lower-cased address, in lower-case hex.
pub fn subscriber_hash(email: &EmailAddress) -> String {
    format!("{:x}", Md5::digest(email.normalized().as_bytes()))
}

/// Upserts members through Mailchimp; see the module documentation.
#[derive(Debug, Clone)]
pub struct MailchimpClient {
    config: MailchimpConfig,
    http: reqwest::Client,
}

impl MailchimpClient {
    pub fn new(config: MailchimpConfig) -> Self {
        Self {
            config,
            http: reqwest::Client::new(),
        }
    }

    async fn put(&self, member: &Member) -> Result<(), Failure> {
        let url = format!(
            "{}/3.0/lists/{}/members/{}",
            self.config.base_url,
            self.config.list_id,
            subscriber_hash(&member.email)
        );
        let request = self
            .http
            .put(url)
            .basic_auth(USERNAME, Some(self.config.api_key.expose_secret()))
            .timeout(self.config.timeout)
            .json(&PutMember {
                email_address: member.email.as_str(),
                status_if_new: self.config.status_if_new,
                merge_fields: MergeFields {
                    first_name: member.first_name.as_str(),
                    last_name: member.last_name.as_str(),
                },
            });
        let (status, body) = exchange::send(request).await?;
        if status.is_success() {
            Ok(())
        } else {
            Err(exchange::for_status(status, problem(&body), &body))
        }
    }
}

#[async_trait]
impl Audience for MailchimpClient {
    async fn upsert_member(&self, member: &Member) -> Result<(), AudienceError> {
        let list_id = &self.config.list_id;
        match self.put(member).await {
            Ok(()) => Ok(()),
            Err(Failure::Retryable(error)) => {
                tracing::warn!(list_id, %error, "Mailchimp unavailable");
                Err(AudienceError::Unavailable(error))
            }
            Err(Failure::Terminal(error)) => {
                tracing::error!(list_id, %error, "Mailchimp rejected the member");
                Err(AudienceError::Rejected(error))
            }
        }
    }
}

/// The request body (`Add_List_Members_2`).
#[derive(Serialize)]
struct PutMember<'a> {
    email_address: &'a str,
    status_if_new: StatusIfNew,
    merge_fields: MergeFields<'a>,
}

/// The default merge fields every Mailchimp audience has.
#[derive(Serialize)]
struct MergeFields<'a> {
    #[serde(rename = "FNAME")]
    first_name: &'a str,
    #[serde(rename = "LNAME")]
    last_name: &'a str,
}

/// Mailchimp's error reply, an `application/problem+json` document
/// `{type, title, status, detail, instance}`.
#[derive(Deserialize)]
struct Problem {
    title: Option<String>,
    detail: Option<String>,
}

/// `title: detail` (or whichever is present), when the body is a problem document.
fn problem(body: &str) -> Option<String> {
    let problem: Problem = serde_json::from_str(body).ok()?;
    match (problem.title, problem.detail) {
        (Some(title), Some(detail)) => Some(format!("{title}: {detail}")),
        (title, detail) => title.or(detail),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_it_writes_reads_back_the_same() {
        let env = [
            ("MAILCHIMP_API_KEY", "abc-us6"),
            ("MAILCHIMP_LIST_ID", "list1"),
            ("MAILCHIMP_STATUS_IF_NEW", "pending"),
            ("MAILCHIMP_TIMEOUT_MS", "1500"),
        ];
        let config = MailchimpConfig::from_env(&env).expect("valid");
        let again = MailchimpConfig::from_env(&config.to_env()).expect("reads back");
        assert_eq!(format!("{again:?}"), format!("{config:?}"));
        assert_eq!(again.api_key.expose_secret(), "abc-us6");
        assert_eq!(again.base_url, "https://us6.api.mailchimp.com");
    }

    #[test]
    fn data_centre_is_the_suffix_after_the_last_dash() {
        assert_eq!(data_centre("0123abcd-us6"), Some("us6"));
        assert_eq!(data_centre("a-b-us21"), Some("us21"));
        assert_eq!(data_centre("0123abcd"), None);
        assert_eq!(data_centre("0123abcd-"), None);
        assert_eq!(data_centre("0123abcd-us6.evil.example/"), None);
    }

    #[test]
    fn problem_reads_title_and_detail() {
        let both = r#"{"type":"t","title":"Invalid Resource","status":400,
                      "detail":"Bad email.","instance":"i"}"#;
        assert_eq!(
            problem(both).as_deref(),
            Some("Invalid Resource: Bad email.")
        );
        assert_eq!(
            problem(r#"{"title":"Forbidden"}"#).as_deref(),
            Some("Forbidden")
        );
        assert_eq!(problem(r#"{"detail":"Gone."}"#).as_deref(), Some("Gone."));
        assert_eq!(problem("{}"), None);
        assert_eq!(problem("<html>"), None);
    }
}
