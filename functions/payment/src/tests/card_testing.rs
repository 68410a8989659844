//! The card-testing limits through the function, with the parent's stand-ins: declines counted
//! per client address, email and card, the 429 before the provider, the client's address behind
//! CloudFront, and paid registrations never counted.

use super::*;

/// A registration body with its own email and card (a valid Luhn number of the same brand), from
/// `source` and, when `viewer` is given, through CloudFront from `viewer`.
fn attempt(n: u32, source: [u8; 4], viewer: Option<&str>, key: Option<&str>) -> HttpRequest {
    let mut body = valid_body();
    body["attendee"]["email"] = json!(format!("tester{n}@example.org"));
    body["card"]["number"] = json!(luhn_number(n));
    let mut request = json_post(&body, key);
    request.source_ip = Some(source.into());
    if let Some(viewer) = viewer {
        request
            .headers
            .insert("x-origin-verify", ORIGIN_SECRET.parse().expect("header"));
        request
            .headers
            .insert("cloudfront-viewer-address", viewer.parse().expect("header"));
    }
    request
}

/// A 16-digit Visa number, different for each `n`: the check digit is the one the domain's own
/// number check takes.
fn luhn_number(n: u32) -> String {
    let body = format!("4{n:014}");
    (0..10)
        .map(|digit| format!("{body}{digit}"))
        .find(|number| domain::Card::parse_number(number).is_ok())
        .expect("one check digit fits")
}

fn decline_every_charge(h: &Harness) {
    *h.gateway.outcome.lock().expect("lock") = Some(PaymentError::Declined {
        code: "CARD_REFUSED".into(),
        reason: "The card was refused.".into(),
    });
}

#[tokio::test]
async fn past_an_addresss_declines_a_try_is_429_before_the_provider_and_others_still_pay() {
    let h = harness();
    decline_every_charge(&h);
    let tester = [198, 51, 100, 7];
    // Ten declines from one address, each with a new email and card: the eleventh try is refused
    // without reaching the provider, with or without a key.
    for n in 0..10 {
        let response = h.call(attempt(n, tester, None, None)).await;
        assert_eq!(response.status, StatusCode::PAYMENT_REQUIRED, "try {n}");
    }
    let refused = h.call(attempt(10, tester, None, Some("k-11"))).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = refused.headers[http::header::RETRY_AFTER]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((3590..=3600).contains(&retry_after), "{retry_after}");
    let message = body_of(&refused)["error"]
        .as_str()
        .expect("a message")
        .to_owned();
    assert!(message.contains("Nothing was charged"), "{message}");
    assert_eq!(*h.gateway.calls.lock().expect("lock"), 10);

    // Another address pays meanwhile, and the refused key was not spent: it pays too once the
    // declines have left the window.
    *h.gateway.outcome.lock().expect("lock") = None;
    let other = h.call(attempt(11, [203, 0, 113, 5], None, None)).await;
    assert_eq!(other.status, StatusCode::CREATED);
    h.declines.declines.lock().expect("lock").clear();
    let retried = h.call(attempt(10, tester, None, Some("k-11"))).await;
    assert_eq!(
        retried.status,
        StatusCode::CREATED,
        "{:?}",
        body_of(&retried)
    );
}

#[tokio::test]
async fn a_cards_and_an_emails_declines_count_from_any_address() {
    let h = harness();
    decline_every_charge(&h);
    // One card, three addresses: the card's third decline is its last.
    for n in 0..3u8 {
        let response = h.call(attempt(1, [192, 0, 2, n], None, None)).await;
        assert_eq!(response.status, StatusCode::PAYMENT_REQUIRED);
    }
    let card = h.call(attempt(1, [192, 0, 2, 9], None, None)).await;
    assert_eq!(card.status, StatusCode::TOO_MANY_REQUESTS);
    // One email with five cards from five addresses: its sixth try is refused.
    let mut body = valid_body();
    for n in 0..6u8 {
        body["card"]["number"] = json!(luhn_number(100 + u32::from(n)));
        let mut request = json_post(&body, None);
        request.source_ip = Some([192, 0, 2, 100 + n].into());
        let expected = if n < 5 {
            StatusCode::PAYMENT_REQUIRED
        } else {
            StatusCode::TOO_MANY_REQUESTS
        };
        assert_eq!(h.call(request).await.status, expected, "try {n}");
    }
    assert_eq!(*h.gateway.calls.lock().expect("lock"), 3 + 5);
}

#[tokio::test]
async fn behind_cloudfront_the_viewer_is_counted_not_the_edge_nor_a_forged_header() {
    let h = harness();
    decline_every_charge(&h);
    let edge = [130, 176, 0, 1];
    // Ten declines from one viewer through one edge: that viewer is refused, another viewer
    // through the same edge is not.
    for n in 0..10 {
        h.call(attempt(n, edge, Some("198.51.100.7:40000"), None))
            .await;
    }
    let viewer = h
        .call(attempt(10, edge, Some("198.51.100.7:40001"), None))
        .await;
    assert_eq!(viewer.status, StatusCode::TOO_MANY_REQUESTS);
    let other = h
        .call(attempt(11, edge, Some("198.51.100.8:40000"), None))
        .await;
    assert_eq!(other.status, StatusCode::PAYMENT_REQUIRED);
    // A client past CloudFront cannot choose its address with the header: without the secret it
    // is counted by the address that connected, whatever address each try claims.
    for n in 12..22 {
        let mut forged = attempt(n, [203, 0, 113, 9], None, None);
        let viewer = format!("198.51.100.{n}:1");
        forged
            .headers
            .insert("cloudfront-viewer-address", viewer.parse().expect("header"));
        assert_eq!(h.call(forged).await.status, StatusCode::PAYMENT_REQUIRED);
    }
    let mut forged = attempt(30, [203, 0, 113, 9], None, None);
    forged.headers.insert(
        "cloudfront-viewer-address",
        "198.51.100.100:1".parse().expect("header"),
    );
    assert_eq!(
        h.call(forged).await.status,
        StatusCode::TOO_MANY_REQUESTS,
        "counted by 203.0.113.9 whatever the header said"
    );
}

#[tokio::test]
async fn a_paid_registration_counts_nothing() {
    let h = harness();
    for n in 0..12 {
        let response = h.call(attempt(n, [192, 0, 2, 1], None, None)).await;
        assert_eq!(response.status, StatusCode::CREATED);
    }
    assert!(h.declines.declines.lock().expect("lock").is_empty());
}
