//! What the emulator serves of AWS's APIs, found from the services' own models (vendored in
//! `specs/aws-api-models`, the files the SDKs are generated from), and held to
//! `docs/limits.md`: each operation the emulator answers is probed from the model, and the
//! page's section for its service must name the operation and every error the model lists for
//! it (what the emulator does about it, or why it cannot happen here). An operation served
//! without its limits written down fails here, whoever adds it.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

fn workspace() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn model(service: &str) -> Value {
    let path = workspace().join(format!("specs/aws-api-models/{service}.service-2.json"));
    serde_json::from_str(&std::fs::read_to_string(&path).expect("the model reads"))
        .expect("the model is JSON")
}

/// The model's operations and the names of the errors each may answer.
fn operations(model: &Value) -> BTreeMap<String, Vec<String>> {
    model["operations"]
        .as_object()
        .expect("operations")
        .iter()
        .map(|(name, operation)| {
            let errors = operation["errors"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|error| error["shape"].as_str().map(str::to_owned))
                .collect();
            (name.clone(), errors)
        })
        .collect()
}

/// Whether the emulator at `url` serves a JSON-protocol operation: anything but its answer for
/// an operation it does not serve (a validation error of the empty input counts as served).
async fn serves_json_operation(client: &reqwest::Client, url: &str, target: &str) -> bool {
    let answer = client
        .post(url)
        .header("x-amz-target", target)
        .header("content-type", "application/x-amz-json-1.0")
        .body("{}")
        .send()
        .await
        .expect("answered");
    let body: Value = answer.json().await.unwrap_or_default();
    !body["message"]
        .as_str()
        .is_some_and(|message| message.starts_with("The emulator does not serve"))
}

/// Whether the emulator serves a REST operation: anything but the server's own answer for a
/// path or method nothing serves.
async fn serves_rest_operation(client: &reqwest::Client, url: &str, http: &Value) -> bool {
    let uri = http["requestUri"].as_str().expect("a request URI");
    let path: String = uri
        .split('?')
        .next()
        .unwrap_or_default()
        .split('/')
        .map(|segment| {
            if segment.starts_with('{') {
                "probe"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/");
    let method = reqwest::Method::from_bytes(http["method"].as_str().unwrap_or("GET").as_bytes())
        .expect("a method");
    let answer = client
        .request(method, format!("{url}{path}"))
        .send()
        .await
        .expect("answered");
    let status = answer.status().as_u16();
    let body: Value = answer.json().await.unwrap_or_default();
    let unserved = body["error"].as_str().is_some_and(|message| {
        message.starts_with("Nothing is served at") || message.contains("does not take this method")
    });
    !(matches!(status, 404 | 405) && unserved)
}

/// The text of `docs/limits.md` under the heading `## {title}`, up to the next such heading.
fn section(title: &str) -> String {
    let page =
        std::fs::read_to_string(workspace().join("docs/limits.md")).expect("docs/limits.md reads");
    let heading = format!("## {title}\n");
    let start = page
        .find(&heading)
        .unwrap_or_else(|| panic!("docs/limits.md has no section {heading:?}"));
    let rest = &page[start + heading.len()..];
    rest[..rest.find("\n## ").unwrap_or(rest.len())].to_owned()
}

/// Whether `section` names `error` in backquotes, itself or by a `Prefix*` that covers it.
fn names_error(section: &str, error: &str) -> bool {
    section.split('`').skip(1).step_by(2).any(|quoted| {
        quoted == error
            || quoted
                .strip_suffix('*')
                .is_some_and(|prefix| !prefix.is_empty() && error.starts_with(prefix))
    })
}

#[tokio::test]
async fn every_served_operation_has_its_limits_and_modelled_errors_written_down() {
    let (emulator, _dir) = crate::support::start_emulator(|_| {}).await;
    let client = reqwest::Client::new();
    let url = emulator.url();
    let mut missing = Vec::new();
    let mut served_count = 0;
    for (service, title, prefix) in [
        ("sqs", "SQS", Some("AmazonSQS")),
        ("stepfunctions", "Step Functions", Some("AWSStepFunctions")),
        ("lambda", "Lambda", None),
    ] {
        let model = model(service);
        let text = section(title);
        for (operation, errors) in operations(&model) {
            let served = match prefix {
                Some(prefix) => {
                    serves_json_operation(&client, &url, &format!("{prefix}.{operation}")).await
                }
                None => {
                    let http = &model["operations"][&operation]["http"];
                    serves_rest_operation(&client, &url, http).await
                }
            };
            if !served {
                continue;
            }
            served_count += 1;
            if !text.contains(&format!("`{operation}`")) {
                missing.push(format!("{title}: the operation {operation}"));
            }
            for error in errors.iter().filter(|error| !names_error(&text, error)) {
                missing.push(format!("{title}: {operation}'s modelled error {error}"));
            }
        }
    }
    assert!(
        served_count >= 17,
        "only {served_count} operations found served"
    );
    assert!(
        missing.is_empty(),
        "docs/limits.md does not say what the emulator does about:\n{}",
        missing.join("\n")
    );
    emulator.shutdown().await;
}
