//! The payloads AWS sends a function, so that a process function presents itself as the
//! function model's traits: API Gateway's HTTP API payload 2.0 in and the proxy response out
//! ([`ProcessHttpFunction`], for payment), and the SQS event of a batch ([`sqs_event`], for the
//! orchestrator). The workflow's tasks take their JSON as is.

use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine;
use bytes::Bytes;
use function_model::{HttpFunction, HttpRequest, HttpResponse, Invocation, QueueMessage};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use serde_json::{Value, json};

use super::instances::LambdaFunction;
use super::runtime_api::InvokeError;
use crate::names::{ACCOUNT, REGION};

/// The payment function as API Gateway's HTTP API calls it: payload 2.0 in, the proxy response
/// out; a function error or timeout is API Gateway's 500 or 503.
pub struct ProcessHttpFunction(pub Arc<LambdaFunction>);

#[async_trait]
impl HttpFunction for ProcessHttpFunction {
    async fn handle(&self, invocation: &Invocation, request: HttpRequest) -> HttpResponse {
        let event = api_gateway_event(invocation, &request);
        match self
            .0
            .invoke(event.to_string().into(), invocation.trace_id.clone())
            .await
        {
            Ok(answer) => proxy_response(&answer).unwrap_or_else(|| {
                tracing::warn!("the function's answer is not an API Gateway proxy response");
                gateway_error(StatusCode::BAD_GATEWAY, "Bad Gateway")
            }),
            Err(InvokeError::TimedOut(_)) => {
                gateway_error(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable")
            }
            Err(e) => {
                tracing::warn!("the payment function failed: {e}");
                gateway_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
            }
        }
    }
}

fn gateway_error(status: StatusCode, message: &str) -> HttpResponse {
    HttpResponse::json(status, &json!({ "message": message }))
}

/// An HTTP API payload 2.0 event for `request` (routes `METHOD /path`, as `template.yaml`'s).
pub(crate) fn api_gateway_event(invocation: &Invocation, request: &HttpRequest) -> Value {
    let mut headers = serde_json::Map::new();
    let mut cookies = Vec::new();
    for (name, value) in &request.headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        if name == http::header::COOKIE {
            cookies.extend(value.split(';').map(|c| c.trim().to_owned()));
            continue;
        }
        match headers.get_mut(name.as_str()) {
            Some(Value::String(joined)) => {
                joined.push(',');
                joined.push_str(&value);
            }
            _ => {
                headers.insert(name.as_str().to_owned(), Value::String(value));
            }
        }
    }
    let (body, encoded) = match std::str::from_utf8(&request.body) {
        Ok(text) => (text.to_owned(), false),
        Err(_) => (
            base64::engine::general_purpose::STANDARD.encode(&request.body),
            true,
        ),
    };
    let now = chrono::Utc::now();
    let route = format!("{} {}", request.method, request.path);
    let host = request.header("host").unwrap_or("localhost").to_owned();
    let mut event = json!({
        "version": "2.0",
        "routeKey": route,
        "rawPath": request.path,
        "rawQueryString": request.query,
        "headers": headers,
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": "local",
            "domainName": host,
            "domainPrefix": "local",
            "http": {
                "method": request.method.as_str(),
                "path": request.path,
                "protocol": "HTTP/1.1",
                "sourceIp": request.source_ip.map(|ip| ip.to_string()).unwrap_or_default(),
                "userAgent": request.header("user-agent").unwrap_or_default(),
            },
            "requestId": invocation.request_id,
            "routeKey": route,
            "stage": "$default",
            "time": now.format("%d/%b/%Y:%H:%M:%S %z").to_string(),
            "timeEpoch": now.timestamp_millis(),
        },
        "body": body,
        "isBase64Encoded": encoded,
    });
    if !cookies.is_empty() {
        event["cookies"] = json!(cookies);
    }
    if !request.path_parameters.is_empty() {
        event["pathParameters"] = json!(request.path_parameters);
    }
    event
}

/// The HTTP response in an API Gateway proxy response (`statusCode`, `headers`, `cookies`,
/// `body`, `isBase64Encoded`).
fn proxy_response(answer: &[u8]) -> Option<HttpResponse> {
    let answer: Value = serde_json::from_slice(answer).ok()?;
    let status = StatusCode::from_u16(u16::try_from(answer["statusCode"].as_u64()?).ok()?).ok()?;
    let mut headers = HeaderMap::new();
    for (name, value) in answer["headers"].as_object().into_iter().flatten() {
        if let (Ok(name), Some(Ok(value))) = (
            HeaderName::from_bytes(name.as_bytes()),
            value.as_str().map(HeaderValue::from_str),
        ) {
            headers.append(name, value);
        }
    }
    for cookie in answer["cookies"].as_array().into_iter().flatten() {
        if let Some(Ok(value)) = cookie.as_str().map(HeaderValue::from_str) {
            headers.append(http::header::SET_COOKIE, value);
        }
    }
    let body = answer["body"].as_str().unwrap_or_default();
    let body = if answer["isBase64Encoded"] == true {
        Bytes::from(
            base64::engine::general_purpose::STANDARD
                .decode(body)
                .ok()?,
        )
    } else {
        Bytes::copy_from_slice(body.as_bytes())
    };
    Some(HttpResponse {
        status,
        headers,
        body,
    })
}

/// An SQS event for a batch, as Lambda's event source mapping sends it.
pub fn sqs_event(queue_arn: &str, batch: &[(QueueMessage, &str, i64)]) -> Value {
    let records: Vec<Value> = batch
        .iter()
        .map(|(message, receipt_handle, sent_at_ms)| {
            let mut attributes = json!({
                "ApproximateReceiveCount": message.receive_count.to_string(),
                "SentTimestamp": sent_at_ms.to_string(),
                "SenderId": ACCOUNT,
                "ApproximateFirstReceiveTimestamp": chrono::Utc::now().timestamp_millis().to_string(),
            });
            let mut message_attributes = serde_json::Map::new();
            for (name, value) in &message.attributes {
                if name == clients::publisher::TRACE_ATTRIBUTE {
                    attributes[name] = json!(value);
                } else {
                    message_attributes.insert(
                        name.clone(),
                        json!({ "stringValue": value, "stringListValues": [], "binaryListValues": [], "dataType": "String" }),
                    );
                }
            }
            json!({
                "messageId": message.message_id,
                "receiptHandle": receipt_handle,
                "body": message.body,
                "attributes": attributes,
                "messageAttributes": message_attributes,
                "md5OfBody": format!("{:x}", <md5::Md5 as md5::Digest>::digest(message.body.as_bytes())),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": REGION,
            })
        })
        .collect();
    json!({ "Records": records })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_request_becomes_the_http_api_event_lambda_http_reads() {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        headers.append("x-a", HeaderValue::from_static("1"));
        headers.append("x-a", HeaderValue::from_static("2"));
        let request = HttpRequest {
            method: http::Method::POST,
            path: "/api/registrations".into(),
            query: "a=1".into(),
            path_parameters: Default::default(),
            source_ip: Some("10.0.0.1".parse().expect("an address")),
            headers,
            body: Bytes::from_static(b"{}"),
        };
        let invocation = Invocation::local("payment", Duration::from_secs(1), None);
        let event = api_gateway_event(&invocation, &request);
        let parsed: lambda_http::request::LambdaRequest =
            serde_json::from_value(event.clone()).expect("lambda_http reads it");
        assert!(matches!(
            parsed,
            lambda_http::request::LambdaRequest::ApiGatewayV2(_)
        ));
        assert_eq!(event["headers"]["x-a"], "1,2");
        assert_eq!(event["routeKey"], "POST /api/registrations");
        assert_eq!(event["requestContext"]["http"]["sourceIp"], "10.0.0.1");
    }

    #[test]
    fn a_proxy_response_becomes_the_http_response() {
        let answer = json!({
            "statusCode": 201,
            "headers": {"content-type": "application/json"},
            "cookies": ["a=1"],
            "body": "eyJvayI6dHJ1ZX0=",
            "isBase64Encoded": true
        });
        let response = proxy_response(answer.to_string().as_bytes()).expect("a response");
        assert_eq!(response.status, StatusCode::CREATED);
        assert_eq!(response.body, Bytes::from_static(b"{\"ok\":true}"));
        assert_eq!(response.headers["set-cookie"], "a=1");
        assert!(proxy_response(b"{}").is_none());
    }
}
