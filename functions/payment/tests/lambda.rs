//! The real `payment` binary on AWS's terms, against the emulator as its cloud: run as process
//! mode runs it (`emulator::aws::lambda`: Lambda's environment, its own Runtime API, `AWS_ENDPOINT_URL`
//! at the emulator's SQS), invoked with API Gateway's HTTP API events (payload 2.0) through
//! `lambda_http`, with its idempotency records in a database of its own and the emulator's local
//! PayPal. A registration is charged once, its
//! `OrderPlaced` goes through SQS to the workflow, which stores it; the same request again gets
//! the same answer and no second charge.

use std::time::Duration;

use emulator::Config;
use emulator::aws::lambda::{FunctionSpec, LambdaFunction};

/// The queue's name: its logical id in `template.yaml`.
const REGISTRATIONS_QUEUE: &str = "RegistrationsQueue";
use serde_json::{Value, json};

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

    let mut environment = vec![
        (
            "REGISTRATIONS_QUEUE_URL".to_owned(),
            format!("{}/000000000000/{REGISTRATIONS_QUEUE}", cloud.url()),
        ),
        (
            "DATABASE_URL".to_owned(),
            format!("sqlite://{}/payment.db", dir.path().display()),
        ),
        (
            "FINGERPRINT_KEY".to_owned(),
            "a key of at least thirty-two characters".to_owned(),
        ),
    ];
    environment.extend(
        cloud
            .provider_environment()
            .iter()
            .map(|(name, value)| ((*name).to_owned(), value.clone())),
    );
    let payment = LambdaFunction::new(FunctionSpec {
        name: "payment".into(),
        executable: env!("CARGO_BIN_EXE_payment").into(),
        handler: "bootstrap".into(),
        environment,
        timeout: Duration::from_secs(30),
        memory_mb: 128,
        concurrency: 1,
        endpoint_url: cloud.url(),
        json_logs: false,
        invocations: Default::default(),
    });
    let invoke = |event: Value| {
        let payment = payment.clone();
        async move {
            let answer = payment
                .invoke(event.to_string().into(), None)
                .await
                .expect("the invocation succeeds");
            let answer: Value = serde_json::from_slice(&answer).expect("a JSON answer");
            let body: Value = serde_json::from_str(answer["body"].as_str().expect("a body"))
                .expect("a JSON body");
            (answer["statusCode"].clone(), body)
        }
    };

    let (status, first) = invoke(post(&registration(), "key-1")).await;
    assert_eq!(status, 201, "{first}");
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

    let execution = cloud
        .wait_for_execution(&order_id, Duration::from_secs(10))
        .await
        .expect("the executions can be read")
        .expect("the order went through SQS to its workflow");
    let execution = serde_json::to_value(&execution).expect("serializable");
    assert_eq!(execution["status"], "SUCCEEDED", "{execution}");
    let payments: Value = reqwest::get(format!("{}/_emulator/api/payments", cloud.url()))
        .await
        .expect("the inspector answers")
        .json()
        .await
        .expect("JSON");
    assert_eq!(
        payments["items"].as_array().map(Vec::len),
        Some(1),
        "charged once: {payments}"
    );
    cloud.shutdown().await;
}
