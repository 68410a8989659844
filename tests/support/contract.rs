//! The public API's contract, web/openapi.json, is what the site and its clients rely on: every
//! answer the tests receive from `/api/…` is held to it, so that the document cannot drift from
//! what the system answers without a test failing.

use std::sync::OnceLock;

use serde_json::Value;

/// The public API's contract, which every response the tests receive is held to.
const OPENAPI: &str = include_str!("../../web/openapi.json");

/// Fails unless `status` is documented for the operation and `body` matches its schema.
pub fn assert_documented(method: &str, path: &str, status: u16, body: &Value) {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    let document =
        DOCUMENT.get_or_init(|| serde_json::from_str(OPENAPI).expect("openapi.json is JSON"));
    let response = &document["paths"][path][method]["responses"][status.to_string()];
    assert!(
        !response.is_null(),
        "{method} {path} answered {status}, which web/openapi.json does not describe"
    );
    // The schema refers to `#/components/...`: validate against it with the components beside it.
    let mut schema = response["content"]["application/json"]["schema"].clone();
    schema["components"] = document["components"].clone();
    let validator = jsonschema::validator_for(&schema).expect("the documented schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(body)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "{method} {path} {status} does not match web/openapi.json: {errors:?}\n{body}"
    );
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    #[should_panic(expected = "does not match web/openapi.json")]
    fn a_body_off_the_contract_fails() {
        assert_documented(
            "post",
            "/api/registrations",
            201,
            &json!({"registrationId": 1}),
        );
    }

    #[test]
    #[should_panic(expected = "which web/openapi.json does not describe")]
    fn an_undocumented_status_fails() {
        assert_documented(
            "post",
            "/api/registrations",
            418,
            &json!({"error": "teapot"}),
        );
    }

    #[test]
    fn a_documented_answer_passes() {
        assert_documented(
            "post",
            "/api/registrations",
            402,
            &json!({"error": "declined", "reason": "refused"}),
        );
        assert_documented(
            "post",
            "/api/registrations",
            413,
            &json!({"message": "Request Entity Too Large"}),
        );
    }
}
