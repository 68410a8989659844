//! Hundreds of malformed requests, generated rather than hand-picked, sent as raw bytes to every
//! part of the emulator: broken request lines, control characters and bad names in headers,
//! contradictory framing, broken chunks, bodies that are not JSON or not a registration, keys
//! outside printable ASCII, wrong methods and unknown paths. Each must be answered with a 4xx and
//! a JSON error within a second; none may be a 5xx or go unanswered.

use std::time::Duration;

use end_to_end::{CARD_NUMBER, spawn_app};
use serde_json::{Value, json};

/// Paths that each part of the emulator serves: the gateway, the inspector, the site, a provider.
const PATHS: [&str; 4] = [
    "/api/registrations",
    "/_emulator/api/faults",
    "/",
    "/_providers/sendgrid/v3/mail/send",
];

/// One request: what it is (for a failure message) and its bytes.
struct Case {
    what: String,
    bytes: Vec<u8>,
}

fn request(method: &str, path: &str, headers: &str, body: &[u8]) -> Vec<u8> {
    let mut bytes = format!(
        "{method} {path} HTTP/1.1\r\nHost: emulator.test\r\nConnection: close\r\n{headers}\r\n"
    )
    .into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// A JSON POST to the registrations route, with `extra` headers.
fn registration_post(body: &[u8], extra: &str) -> Vec<u8> {
    request(
        "POST",
        "/api/registrations",
        &format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n{extra}",
            body.len()
        ),
        body,
    )
}

fn valid_registration() -> Value {
    json!({
        "ticket": "conference",
        "attendee": {"firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.org"},
        "card": {"name": "Ada Lovelace", "number": CARD_NUMBER, "expiry": "2030-12", "securityCode": "123"},
        "billingAddress": {"line1": "12 St James's Square", "city": "London", "postalCode": "SW1Y 4JH", "countryCode": "GB"},
        "newsletter": false
    })
}

fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    let mut add = |what: String, bytes: Vec<u8>| cases.push(Case { what, bytes });

    // Control characters in a header value (every one but the tab), on every part.
    for byte in (0u8..0x20).chain([0x7f]).filter(|b| *b != b'\t') {
        for path in PATHS {
            let mut bytes =
                format!("GET {path} HTTP/1.1\r\nHost: emulator.test\r\nX-Trace: a").into_bytes();
            bytes.extend_from_slice(&[byte, b'b']);
            bytes.extend_from_slice(b"\r\nConnection: close\r\n\r\n");
            add(
                format!("control byte {byte:#04x} in a header on {path}"),
                bytes,
            );
        }
    }
    // Separators and non-ASCII bytes in a header name.
    for byte in b"\"(),/;<=>?@[\\]{} \x80\xff".iter().copied() {
        for path in ["/api/tickets", "/_emulator/api/stats"] {
            let mut bytes = format!("GET {path} HTTP/1.1\r\nHost: emulator.test\r\nX").into_bytes();
            bytes.extend_from_slice(&[byte, b'Y']);
            bytes.extend_from_slice(b": v\r\nConnection: close\r\n\r\n");
            add(
                format!("byte {byte:#04x} in a header name on {path}"),
                bytes,
            );
        }
    }
    // Broken request lines.
    for line in [
        "G ET /api/tickets HTTP/1.1",
        "GE(T /api/tickets HTTP/1.1",
        "GET /api/tickets HTTP/2.0",
        "GET /api/tickets HTTP/1.2",
        "GET /api/tickets HTTP/1",
        "GET /api/tickets FOO/1.1",
        "GET /api/tickets",
        "GET",
        " GET /api/tickets HTTP/1.1",
        "GET  /api/tickets HTTP/1.1",
        "GET /api/ tickets HTTP/1.1",
        "GET /api/tickets HTTP/1.1 extra",
        "/api/tickets HTTP/1.1",
        "GET /a\"b HTTP/1.1",
        "GET /a<b HTTP/1.1",
        "GET /a\\b HTTP/1.1",
        "GET /a^b HTTP/1.1",
        "GET /a`b HTTP/1.1",
        "POST /api/registrations\tHTTP/1.1",
        "GET http://[::1 HTTP/1.1",
        "GET // HTTP/1.1x",
        "\u{1}GET /api/tickets HTTP/1.1",
        "GET /api/tickets HTTP/1.1\rX",
        "PRI * HTTP/2.0",
    ] {
        add(
            format!("request line {line:?}"),
            format!("{line}\r\nHost: emulator.test\r\nConnection: close\r\n\r\n").into_bytes(),
        );
    }
    // Framing: Content-Length and Transfer-Encoding that contradict or cannot be read, chunks
    // that break, bodies that end early; on the gateway and the inspector.
    for path in ["/api/registrations", "/_emulator/api/faults"] {
        let json = "Content-Type: application/json\r\n";
        for (what, headers, body) in [
            ("a negative length", "Content-Length: -1\r\n", &b"{}"[..]),
            ("a length with letters", "Content-Length: 2x\r\n", b"{}"),
            ("a length in hex", "Content-Length: 0x2\r\n", b"{}"),
            (
                "two different lengths",
                "Content-Length: 2\r\nContent-Length: 3\r\n",
                b"{}",
            ),
            (
                "a list of different lengths",
                "Content-Length: 2, 3\r\n",
                b"{}",
            ),
            (
                "an overflowing length",
                "Content-Length: 99999999999999999999999\r\n",
                b"{}",
            ),
            ("an empty length", "Content-Length: \r\n", b"{}"),
            (
                "a body shorter than its length",
                "Content-Length: 50\r\n",
                b"{}",
            ),
            (
                "both length and chunked",
                "Content-Length: 2\r\nTransfer-Encoding: chunked\r\n",
                b"2\r\n{}\r\n0\r\n\r\n",
            ),
            ("gzip without chunked", "Transfer-Encoding: gzip\r\n", b"{}"),
            (
                "chunked then gzip",
                "Transfer-Encoding: chunked, gzip\r\n",
                b"{}",
            ),
            (
                "a chunk size that is not hex",
                "Transfer-Encoding: chunked\r\n",
                b"zz\r\n{}\r\n0\r\n\r\n",
            ),
            (
                "a negative chunk size",
                "Transfer-Encoding: chunked\r\n",
                b"-2\r\n{}\r\n0\r\n\r\n",
            ),
            (
                "a chunk longer than its data",
                "Transfer-Encoding: chunked\r\n",
                b"10\r\n{}\r\n0\r\n\r\n",
            ),
            (
                "a chunk without its CRLF",
                "Transfer-Encoding: chunked\r\n",
                b"2\r\n{}XX0\r\n\r\n",
            ),
            (
                "no last chunk",
                "Transfer-Encoding: chunked\r\n",
                b"2\r\n{}\r\n",
            ),
            (
                "an overflowing chunk size",
                "Transfer-Encoding: chunked\r\n",
                b"fffffffffffffffffff\r\n{}\r\n0\r\n\r\n",
            ),
            (
                "a chunk size line without CRLF",
                "Transfer-Encoding: chunked\r\n",
                b"2",
            ),
        ] {
            add(
                format!("{what} on {path}"),
                request("POST", path, &format!("{json}{headers}"), body),
            );
        }
        add(
            format!("chunked in HTTP/1.0 on {path}"),
            format!("POST {path} HTTP/1.0\r\nHost: emulator.test\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
                .into_bytes(),
        );
    }
    // Heads too large: too many headers, a huge header, a huge target.
    let many: String = (0..120).map(|i| format!("X-H{i}: v\r\n")).collect();
    add(
        "120 headers".into(),
        request("GET", "/api/tickets", &many, b""),
    );
    let huge = format!("X-Big: {}\r\n", "a".repeat(20 * 1024));
    add(
        "a 20 KiB header".into(),
        request("GET", "/api/tickets", &huge, b""),
    );
    let long_path = format!("/api/{}", "a".repeat(20 * 1024));
    add(
        "a 20 KiB target".into(),
        request("GET", &long_path, "", b""),
    );

    // Idempotency keys that are not printable ASCII, or too long, or sent twice.
    let body = valid_registration().to_string();
    for byte in (0x80u8..=0xff).step_by(3) {
        let mut bytes = registration_post(body.as_bytes(), "Idempotency-Key: key-");
        let at = bytes
            .windows(4)
            .position(|w| w == b"key-")
            .expect("the key is in the head")
            + 4;
        bytes.insert(at, byte);
        add(format!("key byte {byte:#04x}"), bytes);
    }
    add(
        "a 256-character key".into(),
        registration_post(
            body.as_bytes(),
            &format!("Idempotency-Key: {}\r\n", "k".repeat(256)),
        ),
    );
    add(
        "an empty key".into(),
        registration_post(body.as_bytes(), "Idempotency-Key: \r\n"),
    );
    add(
        "two keys".into(),
        registration_post(
            body.as_bytes(),
            "Idempotency-Key: a\r\nIdempotency-Key: b\r\n",
        ),
    );

    // Bodies that are not JSON, or not an object.
    let deep = "[".repeat(10_000);
    for raw in [
        "",
        "{",
        "[",
        "nul",
        "{\"a\":}",
        "{'a': 1}",
        "\u{feff}{}",
        "{\"a\":1}}",
        "12e99999",
        "\"text\"",
        "[1,2]",
        "null",
        "true",
        "42",
        deep.as_str(),
    ] {
        add(
            format!("the body {:?}", raw.chars().take(20).collect::<String>()),
            registration_post(raw.as_bytes(), ""),
        );
    }
    let mut invalid_utf8 = b"{\"ticket\": \"".to_vec();
    invalid_utf8.extend_from_slice(&[0xc3, 0x28]);
    invalid_utf8.extend_from_slice(b"\"}");
    add(
        "a body that is not UTF-8".into(),
        registration_post(&invalid_utf8, ""),
    );
    // Content types that are not JSON.
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/jsonx",
        "json",
        "",
    ] {
        add(
            format!("content type {content_type:?}"),
            request(
                "POST",
                "/api/registrations",
                &format!(
                    "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
                    body.len()
                ),
                body.as_bytes(),
            ),
        );
    }
    // Registrations with each field of each wrong type, or missing.
    let fields = [
        ("ticket", None),
        ("attendee", Some("firstName")),
        ("attendee", Some("lastName")),
        ("attendee", Some("email")),
        ("attendee", Some("organization")),
        ("card", Some("name")),
        ("card", Some("number")),
        ("card", Some("expiry")),
        ("card", Some("securityCode")),
        ("billingAddress", Some("line1")),
        ("billingAddress", Some("city")),
        ("billingAddress", Some("postalCode")),
        ("billingAddress", Some("countryCode")),
        ("newsletter", None),
    ];
    for (group, field) in fields {
        for wrong in [
            json!(17),
            json!([]),
            json!({}),
            json!("\u{202E}x"),
            Value::Null,
        ] {
            if field == Some("organization") && wrong.is_null() {
                continue; // optional
            }
            let mut registration = valid_registration();
            match field {
                Some(field) => registration[group][field] = wrong.clone(),
                None => registration[group] = wrong.clone(),
            }
            if group == "newsletter" && wrong == json!("\u{202E}x") {
                registration["newsletter"] = json!("yes");
            }
            add(
                format!("{group}.{} = {wrong}", field.unwrap_or("")),
                registration_post(registration.to_string().as_bytes(), ""),
            );
        }
    }
    // The inspector: fault specs it cannot take, queries it cannot read.
    for spec in [
        "{}",
        "[]",
        "{\"target\": \"nope\", \"mode\": \"fail\"}",
        "{\"target\": \"email\", \"mode\": \"explode\"}",
        "{\"target\": \"email\", \"mode\": \"fail\", \"times\": 0}",
        "{\"target\": \"email\", \"mode\": \"fail\", \"times\": -1}",
        "{\"target\": \"email\", \"mode\": \"fail\", \"status\": 200}",
        "{\"target\": \"email\", \"mode\": \"slow\", \"delayMs\": 3600001}",
        "{\"target\": \"email\", \"mode\": \"slow\", \"delayMs\": 18446744073709551615}",
        "{\"target\": \"email\", \"mode\": \"fail\", \"extra\": 1}",
        "not json",
    ] {
        add(
            format!("fault {spec}"),
            request(
                "POST",
                "/_emulator/api/faults",
                &format!(
                    "Content-Type: application/json\r\nContent-Length: {}\r\n",
                    spec.len()
                ),
                spec.as_bytes(),
            ),
        );
    }
    for query in [
        "limit=abc",
        "limit=-1",
        "limit=99999999999",
        "limit=1&limit=2",
    ] {
        add(
            format!("outbox?{query}"),
            request("GET", &format!("/_emulator/api/outbox?{query}"), "", b""),
        );
    }
    // Unknown paths and wrong methods.
    for path in [
        "/nope",
        "/api",
        "/api/",
        "/api/nope",
        "/_emulator/api/nope",
        "/_emulator/api/executions/nope",
        "/_emulator/api/queues/nope/messages",
        "/_providers/nope",
        "/app.js/x",
        "/%00",
    ] {
        add(format!("GET {path}"), request("GET", path, "", b""));
    }
    for (method, path) in [
        ("DELETE", "/api/tickets"),
        ("PUT", "/api/registrations"),
        ("GET", "/api/registrations"),
        ("POST", "/"),
        ("DELETE", "/_emulator/api/stats"),
        ("POST", "/_emulator/api/queues/registrations/messages"),
        ("BREW", "/api/tickets"),
    ] {
        add(
            format!("{method} {path}"),
            request(method, path, "Content-Length: 0\r\n", b""),
        );
    }
    cases
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_malformed_request_is_a_4xx_with_a_json_error_within_a_second() {
    let app = spawn_app().await;
    let cases = cases();
    assert!(cases.len() >= 300, "only {} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        match app.raw(&case.bytes, Duration::from_secs(1)).await {
            None => failures.push(format!("{}: no answer within a second", case.what)),
            Some(answer) if !(400..500).contains(&answer.status) => {
                failures.push(format!("{}: {} {}", case.what, answer.status, answer.body))
            }
            Some(answer) if answer.error_message().is_none() => failures.push(format!(
                "{}: {} without a JSON error: {:?} {}",
                case.what, answer.status, answer.headers, answer.body
            )),
            Some(_) => {}
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} malformed requests were mishandled:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    assert!(app.inspect("payments").await.is_empty(), "nothing charged");
    app.assert_no_card_data().await;
}
