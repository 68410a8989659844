//! HTTP requests and responses as a function sees them, independent of API Gateway's or Azure's
//! envelopes (the host adapters translate those).

use std::collections::BTreeMap;
use std::net::IpAddr;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use serde::Serialize;

#[derive(Debug, Clone, Default)]
pub struct HttpRequest {
    pub method: Method,
    /// The path without the query string, e.g. `/api/registrations`.
    pub path: String,
    /// The query string as sent, without the `?` (API Gateway's `rawQueryString`); empty when
    /// there is none.
    pub query: String,
    /// The values of the matched route's `{name}` segments (API Gateway's `pathParameters`).
    pub path_parameters: BTreeMap<String, String>,
    /// The client's address (`requestContext.http.sourceIp`), when the host knows it.
    pub source_ip: Option<IpAddr>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// The address in the last entry of header `name` (`X-Forwarded-For`, `Client-IP`: `ip` or
/// `ip:port`, entries separated by commas, the header perhaps sent more than once): the one the
/// nearest proxy added, where the first ones are whatever the client sent.
pub fn last_address(headers: &HeaderMap, name: &str) -> Option<IpAddr> {
    let last = headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .next_back()?
        .trim();
    last.parse::<IpAddr>()
        .ok()
        .or_else(|| last.parse::<std::net::SocketAddr>().ok().map(|a| a.ip()))
}

/// Whether `headers` say the body is JSON (`application/json`, with or without parameters).
pub fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|ct| ct.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
}

impl HttpRequest {
    /// A header's value when it is present and valid UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl HttpResponse {
    /// A JSON response.
    pub fn json(status: StatusCode, body: &impl Serialize) -> Self {
        let body = serde_json::to_vec(body).expect("response bodies are plain JSON values");
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        Self {
            status,
            headers,
            body: body.into(),
        }
    }

    /// The same response with one more header.
    pub fn with_header(mut self, name: header::HeaderName, value: HeaderValue) -> Self {
        self.headers.insert(name, value);
        self
    }
}
