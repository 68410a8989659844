//! The real `payment` binary on AWS's terms, against the emulator as its cloud: Lambda's
//! environment for the emulator's Runtime API, API Gateway's HTTP API events (payload 2.0)
//! through `lambda_http`, `AWS_ENDPOINT_URL` for the emulator's SQS, its idempotency records in a
//! database of its own, and the emulator's local PayPal. A registration is charged once, its
//! `OrderPlaced` goes through SQS to the workflow, which stores it; the same request again gets
//! the same answer and no second charge.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use emulator::runtime_api::RuntimeApi;
use emulator::{Config, REGISTRATIONS_QUEUE};
use serde_json::{Value, json};

/// Stops the binary when the test ends, passed or failed.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `POST /api/registrations` as API Gateway's HTTP API hands it to the function (the fields of
/// AWS's sample event).
fn post(body: &Value, key: &str) -> Value {
    json!({
        "version": "2.0",
        "routeKey": "POST /api/registrations",
        "rawPath": "/api/registrations",
        "rawQueryString": "",
        "headers": {
            "content-type": "application/json",
            "idempotency-key": key,
            "host": "aaaaaaaaaa.execute-api.us-east-1.amazonaws.com",
            "x-amzn-trace-id": "Root=1-5e9f0c65-1de4d666d4dd26aced652b6c",
            "x-forwarded-for": "1.2.3.4",
            "x-forwarded-proto": "https"
        },
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "aaaaaaaaaa",
            "domainName": "aaaaaaaaaa.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "aaaaaaaaaa",
            "http": {
                "method": "POST",
                "path": "/api/registrations",
                "protocol": "HTTP/1.1",
                "sourceIp": "1.2.3.4",
                "userAgent": "test"
            },
            "requestId": "LV7fzho-PHcEJPw=",
            "routeKey": "POST /api/registrations",
            "stage": "$default",
            "time": "21/Apr/2020:15:08:21 +0000",
            "timeEpoch": 1_587_481_701_067_i64
        },
        "body": body.to_string(),
        "isBase64Encoded": false
    })
}

fn registration() -> Value {
    json!({
        "ticket": "conference",
        "attendee": {"firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.org", "organization": "Analytical Engines"},
        "card": {"name": "Ada Lovelace", "number": "4012888888881881", "expiry": "2030-12", "securityCode": "123"},
        "billingAddress": {"line1": "12 St James's Square", "city": "London", "postalCode": "SW1Y 4JH", "countryCode": "GB"},
        "newsletter": true
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_charges_once_and_publishes_through_sqs() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cloud = emulator::start(
        Config::new(format!("sqlite://{}/emulator.db", dir.path().display())),
        tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free port"),
    )
    .await
    .expect("the emulator starts");

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port");
    let runtime_api = listener.local_addr().expect("an address").to_string();
    let api = RuntimeApi::serve(listener, &function_model::local_function_arn("payment"));
    let log = dir.path().join("payment.log");
    let _binary = Running(
        Command::new(env!("CARGO_BIN_EXE_payment"))
            .env("AWS_LAMBDA_RUNTIME_API", &runtime_api)
            .env("AWS_LAMBDA_FUNCTION_NAME", "payment")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_ENDPOINT_URL", cloud.url())
            .env(
                "REGISTRATIONS_QUEUE_URL",
                format!("{}/000000000000/{REGISTRATIONS_QUEUE}", cloud.url()),
            )
            .env(
                "DATABASE_URL",
                format!("sqlite://{}/payment.db", dir.path().display()),
            )
            .envs(cloud.provider_environment().iter().cloned())
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("a log file"))
            .spawn()
            .expect("the binary starts"),
    );
    let logged = || std::fs::read_to_string(&log).unwrap_or_default();
    let (api, logged) = (&api, &logged);
    let invoke = |event: Value| async move {
        let answer = api
            .invoke(event.to_string().into(), Duration::from_secs(30), None)
            .await
            .unwrap_or_else(|e| panic!("the invocation failed: {e}\n{}", logged()));
        let answer: Value = serde_json::from_slice(&answer).expect("a JSON answer");
        let body: Value =
            serde_json::from_str(answer["body"].as_str().expect("a body")).expect("a JSON body");
        (answer["statusCode"].clone(), body)
    };

    let (status, first) = invoke(post(&registration(), "key-1")).await;
    assert_eq!(status, 201, "{first}\n{}", logged());
    let order_id = first["registrationId"]
        .as_str()
        .expect("an order id")
        .to_owned();
    let (status, again) = invoke(post(&registration(), "key-1")).await;
    assert_eq!(
        (status, &again),
        (json!(201), &first),
        "the first answer, replayed"
    );

    let http = reqwest::Client::new();
    let inspect = |path: String| {
        let http = http.clone();
        let url = format!("{}/_emulator/api/{path}", cloud.url());
        async move {
            http.get(url)
                .send()
                .await
                .expect("the inspector answers")
                .json::<Value>()
                .await
                .expect("JSON")
        }
    };
    let mut status = Value::Null;
    for _ in 0..200 {
        status = inspect(format!("executions/{order_id}")).await["status"].clone();
        if status == "SUCCEEDED" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        status,
        "SUCCEEDED",
        "the order went through SQS to its workflow\n{}",
        logged()
    );
    let payments = inspect("payments".into()).await;
    assert_eq!(
        payments["items"].as_array().map(Vec::len),
        Some(1),
        "charged once: {payments}"
    );
    assert!(
        !logged().contains("4012888888881881"),
        "no card number in the function's log"
    );
    cloud.shutdown().await;
}
