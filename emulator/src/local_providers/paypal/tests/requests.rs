//! The local PayPal's checks of a request: every schema violation listed as PayPal lists it, and
//! its business rules answered as unprocessable entities.

use super::*;

#[tokio::test]
async fn schema_violations_are_invalid_requests_with_every_detail() {
    let sandbox = Sandbox::start().await;
    let order = card_order("Ada Lovelace");
    let eleven_units = Value::Array(vec![order["purchase_units"][0].clone(); 11]);
    let cases = [
        (
            without(order.clone(), "/intent"),
            "MISSING_REQUIRED_PARAMETER",
            "/intent",
        ),
        (
            with(order.clone(), "/intent", json!("SALE")),
            "INVALID_PARAMETER_VALUE",
            "/intent",
        ),
        (
            without(order.clone(), "/purchase_units"),
            "MISSING_REQUIRED_PARAMETER",
            "/purchase_units",
        ),
        (
            with(order.clone(), "/purchase_units", json!([])),
            "INVALID_ARRAY_MIN_ITEMS",
            "/purchase_units",
        ),
        (
            with(order.clone(), "/purchase_units", eleven_units),
            "INVALID_ARRAY_MAX_ITEMS",
            "/purchase_units",
        ),
        (
            without(order.clone(), "/purchase_units/0/amount"),
            "MISSING_REQUIRED_PARAMETER",
            "/purchase_units/0/amount",
        ),
        (
            with(
                order.clone(),
                "/purchase_units/0/amount/currency_code",
                json!("US"),
            ),
            "INVALID_STRING_LENGTH",
            "/purchase_units/0/amount/currency_code",
        ),
        (
            with(
                order.clone(),
                "/purchase_units/0/amount/value",
                json!(250.0),
            ),
            "INVALID_PARAMETER_SYNTAX",
            "/purchase_units/0/amount/value",
        ),
        (
            with(
                order.clone(),
                "/purchase_units/0/amount/value",
                json!("250,00"),
            ),
            "INVALID_PARAMETER_SYNTAX",
            "/purchase_units/0/amount/value",
        ),
        (
            with(
                order.clone(),
                "/purchase_units/0/description",
                json!("x".repeat(128)),
            ),
            "INVALID_STRING_LENGTH",
            "/purchase_units/0/description",
        ),
        (
            with(
                order.clone(),
                "/payment_source/card/number",
                json!("4012 8888 8888 1881"),
            ),
            "INVALID_PARAMETER_SYNTAX",
            "/payment_source/card/number",
        ),
        (
            with(
                order.clone(),
                "/payment_source/card/number",
                json!("401288888888"),
            ),
            "INVALID_STRING_LENGTH",
            "/payment_source/card/number",
        ),
        (
            without(order.clone(), "/payment_source/card/expiry"),
            "MISSING_REQUIRED_PARAMETER",
            "/payment_source/card/expiry",
        ),
        (
            with(
                order.clone(),
                "/payment_source/card/expiry",
                json!("2030-13"),
            ),
            "INVALID_PARAMETER_SYNTAX",
            "/payment_source/card/expiry",
        ),
        (
            with(
                order.clone(),
                "/payment_source/card/security_code",
                json!("12"),
            ),
            "INVALID_STRING_LENGTH",
            "/payment_source/card/security_code",
        ),
        (
            with(
                order.clone(),
                "/payment_source/card/security_code",
                json!("12a"),
            ),
            "INVALID_PARAMETER_SYNTAX",
            "/payment_source/card/security_code",
        ),
        (
            with(
                order.clone(),
                "/payment_source/card/billing_address/country_code",
                json!("us"),
            ),
            "INVALID_PARAMETER_SYNTAX",
            "/payment_source/card/billing_address/country_code",
        ),
        // Fields our client never sends: the schema is PayPal's whole `order_request`.
        (
            with(
                order.clone(),
                "/purchase_units/0/soft_descriptor",
                json!("RUSTCONF 2026 CONFERENCE"),
            ),
            "INVALID_STRING_LENGTH",
            "/purchase_units/0/soft_descriptor",
        ),
        (
            with(order.clone(), "/payer", json!({"email_address": "ada"})),
            "INVALID_PARAMETER_SYNTAX",
            "/payer/email_address",
        ),
        // A card sent where an object belongs: its number is not echoed either.
        (
            with(order.clone(), "/payment_source/card", json!(NUMBER)),
            "INVALID_PARAMETER_SYNTAX",
            "/payment_source/card",
        ),
    ];
    for (index, (body, issue, field)) in cases.into_iter().enumerate() {
        let (status, error) = sandbox
            .create(&body, Some(&format!("schema-{index}")))
            .await;
        assert_eq!(status, 400, "{field}: {error}");
        assert_error(&error, "INVALID_REQUEST", issue);
        assert_eq!(
            error["message"],
            "Request is not well-formed, syntactically incorrect, or violates schema."
        );
        assert_eq!(error["details"][0]["field"], field);
        assert_eq!(error["details"][0]["location"], "body");
        if field.starts_with("/payment_source") {
            assert!(!error.to_string().contains(NUMBER), "{error}");
        }
        if field.ends_with("/number")
            || field.ends_with("/security_code")
            || field.ends_with("/card")
        {
            assert!(error["details"][0].get("value").is_none(), "{error}");
        }
    }

    let both = with(
        without(order.clone(), "/intent"),
        "/purchase_units/0/amount/value",
        json!(1),
    );
    let (status, error) = sandbox.create(&both, Some("schema-both")).await;
    assert_eq!(status, 400);
    assert_eq!(
        error["details"].as_array().map(Vec::len),
        Some(2),
        "every problem: {error}"
    );

    let (status, error) = answer(
        sandbox
            .post("/v2/checkout/orders", Some("not-json"))
            .header("content-type", "application/json")
            .body("{intent: CAPTURE"),
    )
    .await;
    assert_eq!(status, 400);
    assert_error(&error, "INVALID_REQUEST", "MALFORMED_REQUEST_JSON");

    let (status, error) = answer(
        sandbox
            .post("/v2/checkout/orders", Some("no-content-type"))
            .body(order.to_string()),
    )
    .await;
    assert_eq!(
        (status, &error["name"]),
        (415, &json!("UNSUPPORTED_MEDIA_TYPE"))
    );
    assert!(sandbox.fake.captures().await.is_empty());
}

#[tokio::test]
async fn business_rules_are_unprocessable_entities() {
    let sandbox = Sandbox::start().await;
    let order = card_order("Ada Lovelace");
    let amount = |currency: &str, value: &str| {
        with(
            order.clone(),
            "/purchase_units/0/amount",
            json!({"currency_code": currency, "value": value}),
        )
    };
    let cases = [
        (
            amount("USD", "10.001"),
            "DECIMAL_PRECISION",
            "/purchase_units/@reference_id=='ord_123'/amount/value",
        ),
        (
            amount("JPY", "25000.00"),
            "DECIMAL_PRECISION",
            "/purchase_units/@reference_id=='ord_123'/amount/value",
        ),
        (
            amount("USD", "0.00"),
            "CANNOT_BE_ZERO_OR_NEGATIVE",
            "/purchase_units/@reference_id=='ord_123'/amount/value",
        ),
        (
            amount("USD", "-5.00"),
            "CANNOT_BE_ZERO_OR_NEGATIVE",
            "/purchase_units/@reference_id=='ord_123'/amount/value",
        ),
        (
            amount("XYZ", "5.00"),
            "INVALID_CURRENCY_CODE",
            "/purchase_units/@reference_id=='ord_123'/amount/currency_code",
        ),
        (
            with(
                order.clone(),
                "/payment_source/card/expiry",
                json!("2020-01"),
            ),
            "CARD_EXPIRED",
            "/payment_source/card/expiry",
        ),
        (
            with(
                order.clone(),
                "/payment_source/card/number",
                json!("9999999999999995"),
            ),
            "CARD_BRAND_NOT_SUPPORTED",
            "/payment_source/card/number",
        ),
        (
            with(order.clone(), "/intent", json!("AUTHORIZE")),
            "AUTH_CAPTURE_NOT_ENABLED",
            "/intent",
        ),
    ];
    for (index, (body, issue, field)) in cases.into_iter().enumerate() {
        let (status, error) = sandbox.create(&body, Some(&format!("rules-{index}"))).await;
        assert_eq!(status, 422, "{issue}: {error}");
        assert_error(&error, "UNPROCESSABLE_ENTITY", issue);
        assert_eq!(error["details"][0]["field"], field);
    }
    assert!(sandbox.fake.captures().await.is_empty(), "nothing charged");

    let (status, order) = sandbox.create(&amount("JPY", "25000"), Some("yen")).await;
    assert_eq!(status, 201, "{order}");
    assert_eq!(sandbox.fake.captures().await[0].amount.value, "25000");
}
