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
