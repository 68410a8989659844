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
mod tests {
    use reqwest::{Client, RequestBuilder};

    use super::*;
    use crate::local_providers::wire::testing::{
        answer, rate_limited, serve, slow_then_timeout, with, without,
    };

    const API_KEY: &str = "0123456789abcdef0123456789abcdef-us6";
    const LIST_ID: &str = "a1b2c3d4e5";
    /// `md5("ada@example.com")`.
    const ADA: &str = "3e3417d7ef77d5932a6734b916515ed5";

    struct Server {
        fake: Arc<MailchimpFake>,
        faults: Arc<Faults>,
        url: String,
        http: Client,
    }

    impl Server {
        async fn start() -> Self {
            let faults = Arc::new(Faults::default());
            let records = crate::local_providers::records::testing::records().await;
            let fake = MailchimpFake::new(API_KEY.into(), LIST_ID.into(), faults.clone(), records);
            let url = serve(fake.router()).await;
            Self {
                fake,
                faults,
                url,
                http: Client::new(),
            }
        }

        fn put(&self, list_id: &str, hash: &str) -> RequestBuilder {
            self.http
                .put(format!("{}/3.0/lists/{list_id}/members/{hash}", self.url))
                .basic_auth("anystring", Some(API_KEY))
        }

        async fn upsert(&self, hash: &str, member: &Value) -> (u16, Value) {
            answer(self.put(LIST_ID, hash).json(member)).await
        }

        fn ping(&self) -> RequestBuilder {
            self.http
                .get(format!("{}/3.0/ping", self.url))
                .basic_auth("anystring", Some(API_KEY))
        }
    }

    /// What the mailing-list function sends for a consenting attendee.
    fn ada() -> Value {
        json!({
            "email_address": "Ada@Example.com",
            "status_if_new": "subscribed",
            "merge_fields": { "FNAME": "Ada", "LNAME": "Lovelace" },
        })
    }

    async fn assert_problem(response: reqwest::Response, status: u16, title: &str) -> Value {
        assert_eq!(response.status(), status);
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
        let problem: Value = response.json().await.expect("JSON");
        assert_eq!(problem["title"], title, "{problem}");
        assert_eq!(problem["status"], status);
        assert_eq!(
            problem["type"],
            "https://mailchimp.com/developer/marketing/docs/errors/"
        );
        assert!(problem["detail"].as_str().is_some_and(|d| !d.is_empty()));
        let instance = problem["instance"].as_str().expect("an instance");
        assert!(uuid::Uuid::parse_str(instance).is_ok(), "{instance}");
        problem
    }

    #[test]
    fn hashes_the_lower_cased_address() {
        assert_eq!(
            subscriber_hash("Urist.McVankab@freddiesjokes.com"),
            "62eeb292278cc15f5817cb78f7790b08"
        );
        assert_eq!(subscriber_hash("ada@example.com"), ADA);
    }

    #[tokio::test]
    async fn adds_a_member_as_mailchimp_answers() {
        let server = Server::start().await;
        let response = server
            .put(LIST_ID, ADA)
            .json(&ada())
            .send()
            .await
            .expect("an answer");
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "application/json");
        let member: Value = response.json().await.expect("JSON");
        assert_eq!(member["id"], ADA);
        assert_eq!(member["email_address"], "Ada@Example.com");
        assert_eq!(member["status"], "subscribed");
        assert_eq!(member["list_id"], LIST_ID);
        assert_eq!(member["full_name"], "Ada Lovelace");
        assert_eq!(
            member["merge_fields"],
            json!({"FNAME": "Ada", "LNAME": "Lovelace"})
        );
        assert!(
            member["unique_email_id"]
                .as_str()
                .is_some_and(|id| id.len() == 10)
        );
        for field in ["last_changed", "timestamp_opt"] {
            assert!(
                member[field]
                    .as_str()
                    .is_some_and(|t| t.ends_with("+00:00")),
                "{field}: {member}"
            );
        }

        let members = server.fake.members().await;
        assert_eq!(members.len(), 1);
        let shown = serde_json::to_value(&members[0]).expect("serializes");
        assert_eq!(shown["emailAddress"], "Ada@Example.com");
        assert_eq!(shown["firstName"], "Ada");
        assert_eq!(shown["lastName"], "Lovelace");
        assert_eq!(shown["status"], "subscribed");
        assert!(shown["lastChanged"].is_string());
    }

    #[tokio::test]
    async fn upserts_by_lower_cased_address() {
        let server = Server::start().await;
        assert_eq!(server.upsert(ADA, &ada()).await.0, 200);

        let again = json!({
            "email_address": "ada@example.com",
            "status_if_new": "pending",
            "merge_fields": { "LNAME": "King" },
        });
        let (status, member) = server.upsert(ADA, &again).await;
        assert_eq!(status, 200);
        assert_eq!(
            member["status"], "subscribed",
            "status_if_new is for new members"
        );
        assert_eq!(
            member["merge_fields"],
            json!({"FNAME": "Ada", "LNAME": "King"})
        );

        let unsubscribe = with(again, "/status", json!("unsubscribed"));
        let (status, member) = server.upsert("ada%40example.com", &unsubscribe).await;
        assert_eq!(status, 200, "the address itself names the member too");
        assert_eq!(member["status"], "unsubscribed");

        let members = server.fake.members().await;
        assert_eq!(members.len(), 1);
        assert_eq!(members[0].status, "unsubscribed");
        assert_eq!(members[0].last_name, "King");

        let grace = json!({"email_address": "grace@example.com", "status_if_new": "pending"});
        let (status, member) = server
            .upsert(&subscriber_hash("grace@example.com"), &grace)
            .await;
        assert_eq!((status, &member["status"]), (200, &json!("pending")));
        assert_eq!(member["timestamp_opt"], "", "not opted in yet");
        assert_eq!(server.fake.members().await.len(), 2);
    }

    #[tokio::test]
    async fn needs_the_api_key_as_the_basic_password() {
        let server = Server::start().await;
        let url = format!("{}/3.0/lists/{LIST_ID}/members/{ADA}", server.url);
        for request in [
            server.http.put(&url),
            server
                .http
                .put(&url)
                .basic_auth("anystring", Some("wrong-us6")),
            server.http.put(&url).bearer_auth(API_KEY),
        ] {
            let response = request.json(&ada()).send().await.expect("an answer");
            let problem = assert_problem(response, 401, "API Key Invalid").await;
            assert_eq!(
                problem["detail"],
                "Your API key may be invalid, or you've attempted to access the wrong datacenter."
            );
        }
        let response = server
            .http
            .get(format!("{}/3.0/ping", server.url))
            .send()
            .await
            .expect("an answer");
        assert_problem(response, 401, "API Key Invalid").await;
        assert!(server.fake.members().await.is_empty());
    }

    #[tokio::test]
    async fn an_unknown_list_is_not_found() {
        let server = Server::start().await;
        let response = server
            .put("not-the-list", ADA)
            .json(&ada())
            .send()
            .await
            .expect("an answer");
        assert_problem(response, 404, "Resource Not Found").await;
    }

    #[tokio::test]
    async fn invalid_members_are_problems_naming_the_field() {
        let server = Server::start().await;
        let member = ada();
        let cases = [
            (
                ADA,
                without(member.clone(), "/email_address"),
                "email_address",
            ),
            (
                ADA,
                with(member.clone(), "/email_address", json!("ada.example.com")),
                "email_address",
            ),
            (
                ADA,
                with(member.clone(), "/email_address", json!(42)),
                "email_address",
            ),
            (
                ADA,
                without(member.clone(), "/status_if_new"),
                "status_if_new",
            ),
            (
                ADA,
                with(member.clone(), "/status_if_new", json!("active")),
                "status_if_new",
            ),
            (ADA, with(member.clone(), "/status", json!(true)), "status"),
            (
                ADA,
                with(member.clone(), "/merge_fields", json!("Ada")),
                "merge_fields",
            ),
            (
                "5d41402abc4b2a76b9719d911017c592",
                member.clone(),
                "subscriber_hash",
            ),
            (
                "Ada@Example.com",
                with(member.clone(), "/email_address", json!("grace@example.com")),
                "subscriber_hash",
            ),
        ];
        for (hash, body, field) in cases {
            let response = server
                .put(LIST_ID, hash)
                .json(&body)
                .send()
                .await
                .expect("an answer");
            let problem = assert_problem(response, 400, "Invalid Resource").await;
            assert!(
                problem["detail"]
                    .as_str()
                    .is_some_and(|d| d.contains(field)),
                "{problem}"
            );
            assert_eq!(problem["errors"][0]["field"], field, "{problem}");
        }
        let response = server
            .put(LIST_ID, ADA)
            .header("content-type", "application/json")
            .body("{\"email_address\":")
            .send()
            .await
            .expect("an answer");
        assert_problem(response, 400, "JSON Parse Error").await;
        assert!(server.fake.members().await.is_empty(), "nothing kept");
    }

    #[tokio::test]
    async fn pings_with_the_api_key() {
        let server = Server::start().await;
        let (status, body) = answer(server.ping()).await;
        assert_eq!(status, 200);
        assert_eq!(body, json!({"health_status": "Everything's Chimpy!"}));
    }

    #[tokio::test]
    async fn faults_answer_as_problem_documents() {
        let server = Server::start().await;
        let response = rate_limited(&server.faults, "mailchimp", || {
            server.put(LIST_ID, ADA).json(&ada())
        })
        .await;
        assert_problem(response, 429, "Too Many Requests").await;
        assert!(server.fake.members().await.is_empty());
        slow_then_timeout(&server.faults, "mailchimp", || server.ping()).await;
    }
}
