//! The payment gateway over PayPal's Orders v2 API: a card charged in one create-order call
//! (`intent: CAPTURE`, the card as `payment_source`), captured explicitly when PayPal leaves the
//! order approved but not yet captured.
//!
//! The client is a concrete struct built from a base URL, credentials and timeouts, not a trait
//! object with a hidden transport, so that tests and the emulator point it at a local HTTP server
//! and exercise the exact requests PayPal would get. Switching between the emulator, PayPal's
//! sandbox and production is only configuration: `PAYPAL_BASE_URL`
//! (`https://api-m.sandbox.paypal.com` or `https://api-m.paypal.com`), `PAYPAL_CLIENT_ID` and
//! `PAYPAL_CLIENT_SECRET`.
//!
//! How a charge goes:
//! - OAuth2 client credentials give a bearer token, cached until a minute before it expires; an
//!   API call answered 401 drops it, fetches a new one and is sent once more.
//! - Every step is idempotent: the create call carries `PayPal-Request-Id` (the charge's request
//!   id) and the capture call that id with `-capture` appended, so PayPal answers a repeat with
//!   the first outcome instead of charging again. The whole charge is therefore retried as one
//!   ([`crate::retry`]: 429, 5xx, unreachable, too slow; exponential backoff with full jitter),
//!   within [`PayPalConfig::deadline`].
//! - A refused card is `Declined` with a sentence for the attendee (`declines.rs`); a request
//!   PayPal refuses otherwise is `Rejected`, logged as an error with PayPal's `debug_id`: that is
//!   our bug or our account's setup, not the attendee's.
//!
//! The card number and security code only ever go into the create-order body, which has no
//! `Debug`; no log line or error message holds them.
//!
//! Layout: this file holds the configuration and the client; `wire.rs` the JSON shapes;
//! `declines.rs` the refusals and their reasons. One HTTP exchange (a timeout, which statuses a
//! retry can help) is the plumbing shared with the SendGrid and Mailchimp clients,
//! `crate::exchange`.

mod declines;
mod wire;

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::header::CONTENT_TYPE;
use reqwest::{RequestBuilder, StatusCode, Url};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::Mutex;
use tokio::time::Instant;
use tracing::Instrument;

use crate::config::{self, ConfigError, Env};
use crate::exchange::{self, Failure};
use crate::payments::{Capture, ChargeRequest, PaymentError, PaymentGateway};
use crate::retry::{Backoff, DeadlineExceeded, retry_within};
use wire::{AccessToken, CreateOrder, ErrorDocument, Order};

/// Waits between attempts of a charge: 200 ms, 400 ms, ... up to 2 s, each with full jitter.
const BACKOFF: Backoff = Backoff {
    initial: Duration::from_millis(200),
    max: Duration::from_secs(2),
    multiplier: 2.0,
};

/// A token is renewed this long before PayPal says it expires.
const TOKEN_MARGIN: Duration = Duration::from_secs(60);

/// Where PayPal is and how long to wait for it. `Debug` shows the secret as `[REDACTED]`.
#[derive(Debug, Clone)]
pub struct PayPalConfig {
    /// Without a trailing slash: `https://api-m.sandbox.paypal.com`, `https://api-m.paypal.com`.
    pub base_url: String,
    pub client_id: String,
    pub client_secret: SecretString,
    /// For each HTTP call, connecting included.
    pub request_timeout: Duration,
    /// For a whole charge, retries included (and at most the caller's budget,
    /// `ChargeRequest::budget`).
    pub deadline: Duration,
}

impl PayPalConfig {
    pub const DEFAULT_REQUEST_TIMEOUT: Duration = exchange::DEFAULT_TIMEOUT;
    /// The attendee is waiting: a PayPal outage is answered (503, "try again") within 10 s,
    /// retries included, not at the API gateway's 29 s.
    pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(8);

    /// Reads `PAYPAL_BASE_URL`, `PAYPAL_CLIENT_ID`, `PAYPAL_CLIENT_SECRET`, and the optional
    /// `PAYPAL_TIMEOUT_MS` (default 10 000) and `PAYPAL_DEADLINE_MS` (default 8 000).
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        const BASE_URL: &str = "PAYPAL_BASE_URL";
        Ok(Self {
            base_url: config::base_url(env, BASE_URL)?.ok_or(ConfigError::Missing(BASE_URL))?,
            client_id: config::required(env, "PAYPAL_CLIENT_ID")?,
            client_secret: config::secret(env, "PAYPAL_CLIENT_SECRET")?,
            request_timeout: config::millis(
                env,
                "PAYPAL_TIMEOUT_MS",
                Self::DEFAULT_REQUEST_TIMEOUT,
            )?,
            deadline: config::millis(env, "PAYPAL_DEADLINE_MS", Self::DEFAULT_DEADLINE)?,
        })
    }

    /// The variables [`PayPalConfig::from_env`] reads back as this configuration: what a
    /// function process is given to reach this PayPal (the emulator's process mode).
    pub fn to_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("PAYPAL_BASE_URL", self.base_url.clone()),
            ("PAYPAL_CLIENT_ID", self.client_id.clone()),
            (
                "PAYPAL_CLIENT_SECRET",
                self.client_secret.expose_secret().to_owned(),
            ),
            (
                "PAYPAL_TIMEOUT_MS",
                self.request_timeout.as_millis().to_string(),
            ),
            ("PAYPAL_DEADLINE_MS", self.deadline.as_millis().to_string()),
        ]
    }
}

/// Charges cards through PayPal; see the module documentation. Share one per process (its token
/// cache and connection pool are per client).
pub struct PayPalClient {
    config: PayPalConfig,
    http: reqwest::Client,
    /// Behind an async lock held while a token is fetched, so that concurrent charges wait for
    /// one fetch instead of each making their own.
    token: Mutex<Option<CachedToken>>,
}

struct CachedToken {
    value: SecretString,
    renew_at: Instant,
}

/// Shows where the client points, never the secret or the token.
impl fmt::Debug for PayPalClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PayPalClient")
            .field("base_url", &self.config.base_url)
            .field("client_id", &self.config.client_id)
            .finish_non_exhaustive()
    }
}

/// Lets [`retry_within`] stop a charge at its deadline. The charge may or may not have happened;
/// a retry with the same request id is safe, which is what `Unavailable` says.
impl From<DeadlineExceeded> for PaymentError {
    fn from(deadline: DeadlineExceeded) -> Self {
        PaymentError::Unavailable(deadline.to_string())
    }
}

#[async_trait]
impl PaymentGateway for PayPalClient {
    async fn charge(&self, request: ChargeRequest<'_>) -> Result<Capture, PaymentError> {
        // The order id is PayPal's idempotency key: 36 characters, well within its 108.
        let request_id = request.order_id.to_string();
        let span = tracing::info_span!("paypal_charge", request_id = %request_id);
        async {
            let body = CreateOrder::new(&request);
            let outcome = retry_within(
                self.config.deadline.min(request.budget),
                &BACKOFF,
                |_| self.charge_once(&request_id, &body),
                |error| matches!(error, PaymentError::Unavailable(_)),
            )
            .await;
            match &outcome {
                Ok(capture) => tracing::info!(capture_id = %capture.capture_id, "card charged"),
                Err(PaymentError::Declined { code, .. }) => tracing::info!(code, "card declined"),
                Err(PaymentError::Unavailable(error)) => {
                    tracing::warn!(error, "PayPal unavailable; giving up")
                }
                Err(PaymentError::Rejected(_)) => {} // logged where PayPal's debug_id is known
            }
            outcome
        }
        .instrument(span)
        .await
    }
}

impl PayPalClient {
    pub fn new(config: PayPalConfig) -> Self {
        Self {
            config,
            http: reqwest::Client::new(),
            token: Mutex::new(None),
        }
    }

    /// One attempt: create the order (PayPal replays it on a repeat), capture it if PayPal has not.
    async fn charge_once(
        &self,
        request_id: &str,
        body: &CreateOrder<'_>,
    ) -> Result<Capture, PaymentError> {
        let order: Order = self
            .post(&["v2", "checkout", "orders"], request_id, body)
            .await?;
        let order = match order.status.as_str() {
            "APPROVED" | "CREATED" if order.capture().is_none() => {
                let path = ["v2", "checkout", "orders", &order.id, "capture"];
                let no_fields = serde_json::Map::new();
                self.post(&path, &format!("{request_id}-capture"), &no_fields)
                    .await?
            }
            _ => order,
        };
        settle(&order)
    }

    /// POSTs `body` as JSON with a bearer token; on a 401, renews the token and sends it once more.
    async fn post<T: DeserializeOwned>(
        &self,
        path: &[&str],
        request_id: &str,
        body: &(impl Serialize + Sync),
    ) -> Result<T, PaymentError> {
        let url = self.url(path)?;
        let request = |token: &SecretString| {
            self.http
                .post(url.clone())
                .bearer_auth(token.expose_secret())
                .header("PayPal-Request-Id", request_id)
                .header("Prefer", "return=representation")
                .json(body)
        };
        let token = self.token().await?;
        let (mut status, mut reply) = self.send(&url, request(&token)).await?;
        if status == StatusCode::UNAUTHORIZED {
            tracing::info!(
                path = url.path(),
                "PayPal refused the access token; renewing it"
            );
            self.forget_token(&token).await;
            (status, reply) = self.send(&url, request(&self.token().await?)).await?;
        }
        read(&url, status, &reply)
    }

    /// The cached token, or a new one.
    async fn token(&self) -> Result<SecretString, PaymentError> {
        let mut cached = self.token.lock().await;
        if let Some(token) = cached
            .as_ref()
            .filter(|token| Instant::now() < token.renew_at)
        {
            return Ok(token.value.clone());
        }
        let url = self.url(&["v1", "oauth2", "token"])?;
        let request = self
            .http
            .post(url.clone())
            .basic_auth(
                &self.config.client_id,
                Some(self.config.client_secret.expose_secret()),
            )
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body("grant_type=client_credentials");
        let (status, reply) = self.send(&url, request).await?;
        if status == StatusCode::UNAUTHORIZED {
            return Err(rejected(
                "PayPal refused the client credentials".into(),
                None,
            ));
        }
        let token: AccessToken = read(&url, status, &reply)?;
        let value = SecretString::from(token.access_token);
        let lifetime = Duration::from_secs(token.expires_in).saturating_sub(TOKEN_MARGIN);
        *cached = Some(CachedToken {
            value: value.clone(),
            renew_at: Instant::now() + lifetime,
        });
        Ok(value)
    }

    /// Drops the cached token if it is still `stale` (another charge may have renewed it already).
    async fn forget_token(&self, stale: &SecretString) {
        let mut cached = self.token.lock().await;
        if cached
            .as_ref()
            .is_some_and(|token| token.value.expose_secret() == stale.expose_secret())
        {
            *cached = None;
        }
    }

    /// `{base_url}/{segments}`, each segment percent-encoded.
    fn url(&self, segments: &[&str]) -> Result<Url, PaymentError> {
        let base = &self.config.base_url;
        let invalid = || {
            rejected(
                format!("the PayPal base URL {base:?} is not a base URL"),
                None,
            )
        };
        let mut url = Url::parse(base).map_err(|_| invalid())?;
        url.path_segments_mut()
            .map_err(|()| invalid())?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    async fn send(
        &self,
        url: &Url,
        request: RequestBuilder,
    ) -> Result<(StatusCode, String), PaymentError> {
        exchange::send(request.timeout(self.config.request_timeout))
            .await
            .map_err(|failure| from_failure(url, failure, None))
    }
}

/// The outcome an order shows: its capture's, or a 3-D Secure step we cannot take.
fn settle(order: &Order) -> Result<Capture, PaymentError> {
    let Some(capture) = order.capture() else {
        if order.status == declines::PAYER_ACTION_REQUIRED {
            return Err(declines::needs_verification());
        }
        return Err(rejected(
            format!(
                "PayPal order {} is {} with no capture",
                order.id, order.status
            ),
            None,
        ));
    };
    match capture.status.as_str() {
        "COMPLETED" | "PENDING" => {
            if capture.status == "PENDING" {
                let reason = capture
                    .status_details
                    .as_ref()
                    .and_then(|details| details.reason.as_deref());
                tracing::info!(capture_id = %capture.id, reason, "the capture is pending");
            }
            Ok(Capture {
                capture_id: capture.id.clone(),
            })
        }
        "DECLINED" | "FAILED" => {
            let response_code = capture
                .processor_response
                .as_ref()
                .and_then(|p| p.response_code.as_deref());
            Err(declines::by_processor(response_code, &capture.status))
        }
        status => Err(rejected(
            format!(
                "PayPal capture {} of order {} is {status}",
                capture.id, order.id
            ),
            None,
        )),
    }
}

/// Reads a 2xx answer as `T`; turns any other into the error it means.
fn read<T: DeserializeOwned>(
    url: &Url,
    status: StatusCode,
    reply: &str,
) -> Result<T, PaymentError> {
    if status.is_success() {
        return serde_json::from_str(reply).map_err(|error| {
            rejected(
                format!(
                    "PayPal {}: the answer ({status}) could not be read: {error}",
                    url.path()
                ),
                None,
            )
        });
    }
    let document: Option<ErrorDocument> = serde_json::from_str(reply).ok();
    if status == StatusCode::UNPROCESSABLE_ENTITY {
        let issue = document
            .as_ref()
            .and_then(ErrorDocument::first_issue)
            .unwrap_or("UNPROCESSABLE_ENTITY");
        if let Some(declined) = declines::by_issue(issue) {
            return Err(declined);
        }
    }
    let debug_id = document
        .as_ref()
        .and_then(|document| document.debug_id.as_deref());
    let failure = exchange::for_status(status, document.as_ref().map(ToString::to_string), reply);
    Err(from_failure(url, failure, debug_id))
}

fn from_failure(url: &Url, failure: Failure, debug_id: Option<&str>) -> PaymentError {
    match failure {
        Failure::Retryable(error) => {
            PaymentError::Unavailable(format!("PayPal {}: {error}", url.path()))
        }
        Failure::Terminal(error) => rejected(format!("PayPal {}: {error}", url.path()), debug_id),
    }
}

/// `Rejected`, logged as an error (with PayPal's `debug_id` when there is one, for its support):
/// PayPal refused a request of ours, or answered in a way this client does not handle.
fn rejected(error: String, debug_id: Option<&str>) -> PaymentError {
    tracing::error!(debug_id, error, "PayPal rejected the charge");
    PaymentError::Rejected(error)
}
