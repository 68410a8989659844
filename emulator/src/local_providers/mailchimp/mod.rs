//! A local Mailchimp that speaks Marketing API 3.0: add or update a list member
//! (`PUT /3.0/lists/{list_id}/members/{subscriber_hash}`) and `GET /3.0/ping`, as the
//! `marketing_3.0.55` extract describes them.
//!
//! Why: the mailing-list function's real Mailchimp client runs unchanged on a laptop, pointed
//! here, and the members it adds land in the inspector's audience. The fake rejects what
//! Mailchimp rejects, as `application/problem+json` documents (`{type, title, status, detail,
//! instance}`) with Mailchimp's status and title: a wrong API key, an unknown list, a missing
//! `email_address` or `status_if_new`, a status outside the enum, a subscriber hash that is not
//! the MD5 of the lower-cased address. So a client bug fails here first.
//!
//! As at Mailchimp, members are keyed by lower-cased address: a new one gets `status_if_new`, an
//! existing one keeps its status unless `status` is given, and `merge_fields` update the fields
//! they name.
//!
//! Limits: one list (the configured one), whose merge fields are `FNAME` and `LNAME`; other
//! member attributes (interests, tags, location, ...) are accepted and not kept.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use chrono::{DateTime, SecondsFormat, Utc};
use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::wire::{basic_credentials, is_email, json_kind, random_hex, with_faults};
use crate::local_providers::faults::Faults;
use crate::local_providers::records::Records;

const MEMBER_STATUSES: [&str; 5] = [
    "subscribed",
    "unsubscribed",
    "cleaned",
    "pending",
    "transactional",
];

/// An audience member as the inspector shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AudienceMember {
    pub email_address: String,
    /// The `FNAME` merge field.
    pub first_name: String,
    /// The `LNAME` merge field.
    pub last_name: String,
    pub status: String,
    pub last_changed: DateTime<Utc>,
}

pub struct MailchimpFake {
    api_key: String,
    list_id: String,
    faults: Arc<Faults>,
    /// Members by list and lower-cased address.
    records: Records,
}

/// A member as this fake keeps it.
#[derive(Serialize, Deserialize)]
struct Member {
    email_address: String,
    unique_email_id: String,
    status: String,
    merge_fields: Map<String, Value>,
    timestamp_signup: String,
    timestamp_opt: String,
    last_changed: DateTime<Utc>,
}

impl MailchimpFake {
    pub fn new(
        api_key: String,
        list_id: String,
        faults: Arc<Faults>,
        records: Records,
    ) -> Arc<Self> {
        Arc::new(Self {
            api_key,
            list_id,
            faults,
            records,
        })
    }

    /// The routes, at Mailchimp's own paths (`/3.0/lists/{list_id}/members/{hash}`, `/3.0/ping`).
    pub fn router(self: &Arc<Self>) -> Router {
        let routes = Router::new()
            .route(
                "/3.0/lists/{list_id}/members/{subscriber_hash}",
                put(put_member),
            )
            .route("/3.0/ping", get(ping))
            .with_state(self.clone());
        with_faults(routes, self.faults.clone(), "mailchimp", |status| {
            let detail = if status == StatusCode::TOO_MANY_REQUESTS {
                "You have exceeded the limit of 10 simultaneous connections."
            } else {
                "An unexpected internal error has occurred. Please contact Support for more information."
            };
            problem(
                status,
                status.canonical_reason().unwrap_or("Error"),
                detail,
                &[],
            )
        })
    }

    /// Every member, most recently changed first.
    #[cfg(test)]
    async fn members(&self) -> Vec<AudienceMember> {
        let request = durable::PageRequest {
            limit: Some(durable::page::MAX_LIMIT),
            cursor: None,
        };
        let page = self
            .records
            .page(crate::local_providers::records::Listing::Members, &request);
        page.await.expect("members readable").items
    }

    /// Whether the request authenticates with HTTP Basic, the API key as password (any user
    /// name, as Mailchimp allows).
    fn authenticated(&self, headers: &HeaderMap) -> bool {
        basic_credentials(headers).is_some_and(|(_, password)| password == self.api_key)
    }
}

fn api_key_invalid() -> Response {
    problem(
        StatusCode::UNAUTHORIZED,
        "API Key Invalid",
        "Your API key may be invalid, or you've attempted to access the wrong datacenter.",
        &[],
    )
}

impl Member {
    /// Applies a PUT's merge fields, stamps the opt-in of a subscribed member, and the change.
    fn apply(&mut self, request: &MemberRequest<'_>, now: DateTime<Utc>) {
        if let Some(fields) = request.merge_fields {
            self.merge_fields.extend(
                fields
                    .iter()
                    .map(|(tag, value)| (tag.clone(), value.clone())),
            );
        }
        if self.status == "subscribed" && self.timestamp_opt.is_empty() {
            self.timestamp_opt = timestamp(now);
        }
        self.last_changed = now;
    }

    /// What the inspector shows of the member.
    fn record(&self) -> AudienceMember {
        AudienceMember {
            email_address: self.email_address.clone(),
            first_name: self.merge_field("FNAME"),
            last_name: self.merge_field("LNAME"),
            status: self.status.clone(),
            last_changed: self.last_changed,
        }
    }

    fn merge_field(&self, tag: &str) -> String {
        self.merge_fields
            .get(tag)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    }

    /// The member as Mailchimp answers it (`List_Members_2`).
    fn to_json(&self, list_id: &str) -> Value {
        let full_name = format!(
            "{} {}",
            self.merge_field("FNAME"),
            self.merge_field("LNAME")
        );
        json!({
            "id": subscriber_hash(&self.email_address),
            "email_address": self.email_address,
            "unique_email_id": self.unique_email_id,
            "full_name": full_name.trim(),
            "email_type": "html",
            "status": self.status,
            "merge_fields": self.merge_fields,
            "stats": { "avg_open_rate": 0, "avg_click_rate": 0 },
            "ip_signup": "",
            "timestamp_signup": self.timestamp_signup,
            "ip_opt": "",
            "timestamp_opt": self.timestamp_opt,
            "member_rating": 2,
            "last_changed": timestamp(self.last_changed),
            "language": "",
            "vip": false,
            "source": "API - Generic",
            "tags_count": 0,
            "tags": [],
            "list_id": list_id,
        })
    }
}

/// `GET /3.0/ping`.
async fn ping(State(fake): State<Arc<MailchimpFake>>, headers: HeaderMap) -> Response {
    if !fake.authenticated(&headers) {
        return api_key_invalid();
    }
    Json(json!({ "health_status": "Everything's Chimpy!" })).into_response()
}

/// A member request that passed validation.
struct MemberRequest<'a> {
    email_address: &'a str,
    status_if_new: &'static str,
    status: Option<&'static str>,
    merge_fields: Option<&'a Map<String, Value>>,
    timestamp_signup: Option<&'a str>,
}

/// `PUT /3.0/lists/{list_id}/members/{subscriber_hash}`: add or update.
async fn put_member(
    State(fake): State<Arc<MailchimpFake>>,
    Path((list_id, hash)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !fake.authenticated(&headers) {
        return api_key_invalid();
    }
    if list_id != fake.list_id {
        return problem(
            StatusCode::NOT_FOUND,
            "Resource Not Found",
            "The requested resource could not be found.",
            &[],
        );
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return problem(
            StatusCode::BAD_REQUEST,
            "JSON Parse Error",
            "We encountered an unspecified JSON parsing error.",
            &[],
        );
    };
    let request = match check_member(&body) {
        Ok(request) => request,
        Err(errors) => return invalid_resource(&errors),
    };
    let address = request.email_address;
    if !hash.eq_ignore_ascii_case(&subscriber_hash(address)) && !hash.eq_ignore_ascii_case(address)
    {
        return invalid_resource(&[(
            "subscriber_hash",
            format!(
                "The subscriber hash {hash:?} is neither the MD5 hash of the lower-cased email_address nor the address itself."
            ),
        )]);
    }
    let now = Utc::now();
    let unavailable = |e: durable::DbError| {
        tracing::error!("the local Mailchimp's audience is unavailable: {e}");
        problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "Service Unavailable",
            "An unexpected internal error has occurred. Please contact Support for more information.",
            &[],
        )
    };
    // A new member is the usual case: added with one statement, unless the address is known.
    let mut fresh = Member {
        email_address: address.to_owned(),
        unique_email_id: random_hex(10),
        status: request.status_if_new.to_owned(),
        merge_fields: Map::from_iter([
            ("FNAME".to_owned(), json!("")),
            ("LNAME".to_owned(), json!("")),
        ]),
        timestamp_signup: request.timestamp_signup.unwrap_or_default().to_owned(),
        timestamp_opt: String::new(),
        last_changed: now,
    };
    fresh.apply(&request, now);
    let stored = serde_json::to_value(&fresh).unwrap_or_default();
    match fake
        .records
        .put_member(&fake.list_id, address, &stored, &fresh.record(), false)
        .await
    {
        Ok(true) => return Json(fresh.to_json(&fake.list_id)).into_response(),
        Ok(false) => {}
        Err(e) => return unavailable(e),
    }
    let mut member = match fake.records.member(&fake.list_id, address).await {
        Ok(Some(stored)) => match serde_json::from_value::<Member>(stored) {
            Ok(member) => member,
            Err(e) => return unavailable(durable::DbError::Corrupt(format!("member: {e}"))),
        },
        // Removed meanwhile: add it as new.
        Ok(None) => fresh,
        Err(e) => return unavailable(e),
    };
    if let Some(status) = request.status {
        member.status = status.to_owned();
    }
    member.apply(&request, now);
    let stored = serde_json::to_value(&member).unwrap_or_default();
    if let Err(e) = fake
        .records
        .put_member(&fake.list_id, address, &stored, &member.record(), true)
        .await
    {
        return unavailable(e);
    }
    Json(member.to_json(&fake.list_id)).into_response()
}

/// A field and what is wrong with it.
type FieldError = (&'static str, String);

/// Checks a member body (`Add_List_Members_2`): every problem, by field.
fn check_member(body: &Value) -> Result<MemberRequest<'_>, Vec<FieldError>> {
    let mut errors: Vec<FieldError> = Vec::new();
    let email_address = match body.get("email_address") {
        None | Some(Value::Null) => {
            errors.push(("email_address", "This value should not be blank.".into()));
            None
        }
        Some(Value::String(address)) if is_email(address) => Some(address.as_str()),
        Some(Value::String(address)) => {
            errors.push((
                "email_address",
                format!("{address} looks fake or invalid, please enter a real email address."),
            ));
            None
        }
        Some(other) => {
            errors.push((
                "email_address",
                format!(
                    "Schema describes string, {} found instead.",
                    json_kind(other)
                ),
            ));
            None
        }
    };
    let mut status = |field: &'static str, required: bool| match body.get(field) {
        None | Some(Value::Null) => {
            if required {
                errors.push((field, "This value should not be blank.".into()));
            }
            None
        }
        Some(value) => {
            let known = MEMBER_STATUSES
                .into_iter()
                .find(|status| value.as_str() == Some(*status));
            if known.is_none() {
                errors.push((
                    field,
                    format!(
                        "Value must be one of: {} ({value} given).",
                        MEMBER_STATUSES.join(", ")
                    ),
                ));
            }
            known
        }
    };
    let status_if_new = status("status_if_new", true);
    let status = status("status", false);
    let merge_fields = match body.get("merge_fields") {
        None | Some(Value::Null) => None,
        Some(Value::Object(fields)) => Some(fields),
        Some(other) => {
            errors.push((
                "merge_fields",
                format!(
                    "Schema describes object, {} found instead.",
                    json_kind(other)
                ),
            ));
            None
        }
    };
    match (email_address, status_if_new) {
        (Some(email_address), Some(status_if_new)) if errors.is_empty() => Ok(MemberRequest {
            email_address,
            status_if_new,
            status,
            merge_fields,
            timestamp_signup: body.get("timestamp_signup").and_then(Value::as_str),
        }),
        _ => Err(errors),
    }
}

/// Mailchimp's `400 Invalid Resource`, with the detail naming each field and the `errors` array.
fn invalid_resource(errors: &[FieldError]) -> Response {
    let detail = errors
        .iter()
        .map(|(field, message)| format!("{field}: {message}"))
        .collect::<Vec<_>>()
        .join(" ");
    problem(StatusCode::BAD_REQUEST, "Invalid Resource", &detail, errors)
}

/// A problem document (`Problem_Detail_Document`), served as `application/problem+json`.
fn problem(status: StatusCode, title: &str, detail: &str, errors: &[FieldError]) -> Response {
    let mut body = json!({
        "type": "https://mailchimp.com/developer/marketing/docs/errors/",
        "title": title,
        "status": status.as_u16(),
        "detail": detail,
        "instance": uuid::Uuid::new_v4().to_string(),
    });
    if !errors.is_empty() {
        body["errors"] = errors
            .iter()
            .map(|(field, message)| json!({ "field": field, "message": message }))
            .collect();
    }
    (
        status,
        [(header::CONTENT_TYPE, "application/problem+json")],
        body.to_string(),
    )
        .into_response()
}

/// The MD5 hex of the lower-cased address: how Mailchimp names a member in URLs.
fn subscriber_hash(address: &str) -> String {
    format!("{:x}", Md5::digest(address.to_lowercase().as_bytes()))
}

/// Mailchimp's timestamps: ISO 8601 with a `+00:00` offset, to the second.
fn timestamp(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, false)
}

#[cfg(test)]
mod tests;
