//! The emulator runs what the template says: started on a changed copy of `template.yaml`, it
//! uses the changed queue settings, routes and parameters; started on a broken one, it refuses
//! with an error that names the resource and the property.

use std::path::Path;

use aws_sdk_sqs::types::QueueAttributeName;
use emulator::{Config, RunningEmulator};

/// A copy of the workspace's template in a folder of its own, with `edit` applied, and the state
/// machine file where its `DefinitionUri` looks.
fn changed_template(edit: impl FnOnce(String) -> String) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let original =
        std::fs::read_to_string(workspace.join("template.yaml")).expect("template.yaml reads");
    let changed = edit(original.clone());
    assert_ne!(changed, original, "the edit changed the template");
    std::fs::write(dir.path().join("template.yaml"), changed).expect("written");
    let machine = "infra/statemachine/registration.asl.json";
    std::fs::create_dir_all(dir.path().join("infra/statemachine")).expect("created");
    std::fs::copy(workspace.join(machine), dir.path().join(machine)).expect("copied");
    dir
}

async fn start(
    template: &Path,
    configure: impl FnOnce(&mut Config),
) -> anyhow::Result<(RunningEmulator, tempfile::TempDir)> {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let mut config = Config::new(format!(
        "sqlite://{}",
        dir.path().join("emulator.db").display()
    ));
    config.template = template.join("template.yaml");
    configure(&mut config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    Ok((emulator::start(config, listener).await?, dir))
}

/// The registrations queue's visibility timeout and redrive policy, through the SQS API.
async fn queue_settings(emulator: &RunningEmulator) -> (String, String) {
    let sqs = crate::support::client!(aws_sdk_sqs, emulator.url());
    let url = sqs
        .get_queue_url()
        .queue_name("RegistrationsQueue")
        .send()
        .await
        .expect("the queue exists")
        .queue_url
        .expect("a URL");
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .expect("attributes")
        .attributes
        .unwrap_or_default();
    let get = |name: QueueAttributeName| attributes.get(&name).cloned().unwrap_or_default();
    (
        get(QueueAttributeName::VisibilityTimeout),
        get(QueueAttributeName::RedrivePolicy),
    )
}

async fn get(emulator: &RunningEmulator, path: &str) -> (u16, String) {
    let response = reqwest::get(format!("{}{path}", emulator.url()))
        .await
        .expect("answered");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

async fn preflight(emulator: &RunningEmulator, origin: &str) -> u16 {
    reqwest::Client::new()
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/api/registrations", emulator.url()),
        )
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .send()
        .await
        .expect("answered")
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_changed_template_changes_what_runs() {
    let unchanged = changed_template(|t| {
        t.replacen(
            "Conference registration:",
            "Conference registration (a copy):",
            1,
        )
    });
    let (emulator, _db) = start(unchanged.path(), |_| {}).await.expect("starts");
    let (visibility, redrive) = queue_settings(&emulator).await;
    assert_eq!(visibility, "60");
    assert!(redrive.contains("\"maxReceiveCount\":5"), "{redrive}");
    assert_eq!(get(&emulator, "/api/tickets").await.0, 200);
    assert_eq!(preflight(&emulator, "http://localhost:8080").await, 403);
    emulator.shutdown().await;

    let changed = changed_template(|t| {
        t.replace("VisibilityTimeout: 60", "VisibilityTimeout: 75")
            .replace("maxReceiveCount: 5", "maxReceiveCount: 2")
            .replace("Path: /api/tickets", "Path: /api/ticket-types")
    });
    let (emulator, _db) = start(changed.path(), |config| {
        config.parameter_overrides = vec![("SiteOrigin".into(), "http://localhost:8080".into())];
    })
    .await
    .expect("starts");
    let (visibility, redrive) = queue_settings(&emulator).await;
    assert_eq!(visibility, "75");
    assert!(redrive.contains("\"maxReceiveCount\":2"), "{redrive}");
    let (status, body) = get(&emulator, "/api/tickets").await;
    assert_eq!(
        (status, body.as_str()),
        (404, r#"{"message":"Not Found"}"#),
        "no route: API Gateway's answer, not the function's"
    );
    let (status, body) = get(&emulator, "/api/ticket-types").await;
    assert_eq!(status, 404);
    assert!(
        body.contains("No such API route"),
        "the route reaches the function, which knows no such path: {body}"
    );
    assert_eq!(
        preflight(&emulator, "http://localhost:8080").await,
        204,
        "the SiteOrigin parameter is the API's CORS origin"
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_broken_template_is_refused_naming_the_resource_and_property() {
    let broken = changed_template(|t| t.replacen("Timeout: 29", "Timeout: soon", 1));
    let error = start(broken.path(), |_| {})
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(
        error.contains("Resources.PaymentFunction.Properties.Timeout")
            && error.contains("\"soon\" is not a whole number"),
        "{error}"
    );

    let template = changed_template(|t| {
        t.replacen(
            "Conference registration:",
            "Conference registration (a copy):",
            1,
        )
    });
    let error = start(template.path(), |config| {
        config.parameter_overrides = vec![("PayPalBaseUrl".into(), "http://evil.example".into())];
    })
    .await
    .err()
    .expect("refused")
    .to_string();
    assert!(
        error.contains("Parameters.PayPalBaseUrl") && error.contains("is not one of"),
        "{error}"
    );
}

/// Reports every message of its batch as failed, as a function whose work failed does.
const REFUSER: &str = r#"#!/bin/bash
set -euo pipefail
api="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
headers="$(mktemp)"
while true; do
  event="$(curl -sS -D "$headers" "$api/invocation/next")"
  id="$(grep -i '^lambda-runtime-aws-request-id:' "$headers" | tr -d '\r' | cut -d' ' -f2)"
  failures="$(echo "$event" | grep -o '"messageId":"[^"]*"' | sed 's/"messageId"/{"itemIdentifier"/; s/$/}/' | paste -sd, -)"
  curl -sS -X POST "$api/invocation/$id/response" -d "{\"batchItemFailures\": [$failures]}" >/dev/null
done
"#;

/// A function of another language's custom runtime (its `CodeUri`'s `bootstrap`) fed by two
/// queues, one with `ReportBatchItemFailures` and one without: the failures it reports keep the
/// first queue's message, and are ignored for the second, whose batch the successful invocation
/// deletes, as on Lambda.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sqs_event_source_honours_its_function_response_types() {
    let folder = tempfile::tempdir().expect("a temporary folder");
    std::fs::write(
        folder.path().join("template.yaml"),
        r"
Resources:
  Machine:
    Type: AWS::Serverless::StateMachine
    Properties:
      Definition: {StartAt: A, States: {A: {Type: Pass, End: true}}}
  Reported: {Type: AWS::SQS::Queue, Properties: {VisibilityTimeout: 1}}
  Ignored: {Type: AWS::SQS::Queue, Properties: {VisibilityTimeout: 1}}
  Refuser:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: provided.al2023
      Handler: bootstrap
      CodeUri: refuser
      Events:
        FromReported:
          Type: SQS
          Properties:
            Queue: !GetAtt Reported.Arn
            BatchSize: 1
            FunctionResponseTypes: [ReportBatchItemFailures]
        FromIgnored:
          Type: SQS
          Properties: {Queue: !GetAtt Ignored.Arn, BatchSize: 1}
",
    )
    .expect("written");
    let code = folder.path().join("refuser");
    std::fs::create_dir_all(&code).expect("created");
    crate::support::write_executable(&code.join("bootstrap"), REFUSER);
    let (emulator, _db) = start(folder.path(), |config| {
        config.functions = emulator::Functions::Process(Default::default());
    })
    .await
    .expect("starts");
    let client = reqwest::Client::new();
    for queue in ["Reported", "Ignored"] {
        let sent = client
            .post(format!(
                "{}/_emulator/api/queues/{queue}/messages",
                emulator.url()
            ))
            .header("content-type", "application/json")
            .body(r#"{"job": 1}"#)
            .send()
            .await
            .expect("sent");
        assert!(sent.status().is_success(), "{}", sent.status());
    }
    let queues = || async {
        client
            .get(format!("{}/_emulator/api/queues", emulator.url()))
            .send()
            .await
            .expect("answered")
            .json::<serde_json::Value>()
            .await
            .expect("JSON")
    };
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let listing = queues().await;
        let queue = |name: &str| {
            listing
                .as_array()
                .and_then(|all| all.iter().find(|q| q["name"] == name))
                .cloned()
                .unwrap_or_default()
        };
        let (reported, ignored) = (queue("Reported"), queue("Ignored"));
        let redelivered = reported["messages"][0]["receiveCount"]
            .as_u64()
            .is_some_and(|count| count >= 2);
        let deleted = ignored["messages"]
            .as_array()
            .is_some_and(|messages| messages.is_empty());
        if redelivered && deleted {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the reported failure is redelivered, the ignored one deleted: {reported} {ignored}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    emulator.shutdown().await;
}
