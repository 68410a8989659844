//! The API gateway at `/api/*`: what API Gateway's HTTP API does in front of the functions. It
//! matches the template's routes, throttles them and holds their functions to their reserved
//! concurrency as the template says (`throttle.rs`), hands the request to the route's function as
//! the Lambda proxy integration does (payload 2.0), holds it to the function's timeout, passes the
//! trace header on (or starts a trace), and answers CORS as the API's `CorsConfiguration` says.
//! Its errors take API Gateway's shape, `{"message"}`.
//!
//! On AWS the site and the API share CloudFront, and so do they here: as CloudFront does, the
//! gateway gives the function the client's address as `CloudFront-Viewer-Address` and proves it
//! came through CloudFront with `X-Origin-Verify` (the template's origin custom header),
//! replacing whatever the client sent as either.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use function_model::{HttpRequest, Invocation};
use serde_json::json;
use tracing::Instrument;

use crate::aws::template::Cors;
use crate::local_providers::faults::Fault;
use crate::state::{HttpRoute, Services};

/// The gateway's one route: every path under `/api/`.
pub(crate) fn routes() -> Router<Arc<Services>> {
    Router::new().route("/api/{*route}", any(gateway))
}

/// An error in API Gateway's shape.
pub(crate) fn gateway_error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "message": message }))).into_response()
}

/// Hands the request to the function of the template's route that matches it, as API Gateway's
/// Lambda proxy integration does (no route: API Gateway's `404`), and holds it to the function's
/// timeout whatever the function (or a fault) does: past it, a `504`. Answers CORS as the HTTP
/// API's `CorsConfiguration` says.
async fn gateway(State(services): State<Arc<Services>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let origin = allowed_origin(&services, &parts.headers);
    if parts.method == Method::OPTIONS
        && parts
            .headers
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
    {
        return preflight(&services.cors, origin);
    }
    // Read whole by `buffer_body` already.
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let route = services.routes.iter().find_map(|route| {
        route
            .route
            .matches(parts.method.as_str(), parts.uri.path())
            .map(|parameters| (route, parameters))
    });
    let mut response = if *services.stopping.borrow() {
        let mut response = gateway_error(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable");
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        response
    } else if let Some((route, _)) = route
        && route
            .throttle
            .as_ref()
            .is_some_and(|bucket| !bucket.try_take())
    {
        gateway_error(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests")
    } else if let Some((route, path_parameters)) = route {
        // API Gateway passes the caller's trace header on, or starts a trace.
        let trace_id = parts
            .headers
            .get("x-amzn-trace-id")
            .and_then(|v| v.to_str().ok())
            .map_or_else(new_trace_id, str::to_owned);
        let invocation = Invocation::local(&route.route.function, route.timeout, Some(trace_id));
        let client = client(&parts, services.trust_forwarded_for);
        let request = function_request(
            parts,
            path_parameters,
            body,
            client,
            services.origin_secret.as_deref(),
        );
        invoke(&services, route, &invocation, request)
            .instrument(invocation.span())
            .await
    } else {
        gateway_error(StatusCode::NOT_FOUND, "Not Found")
    };
    if let Some(origin) = origin {
        let headers = response.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        if let Ok(exposed) = HeaderValue::from_str(&services.cors.expose_headers.join(","))
            && !exposed.is_empty()
        {
            headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, exposed);
        }
    }
    response
        .headers_mut()
        .append(header::VARY, HeaderValue::from_static("origin"));
    response
}

/// The client: the address that connected, or with `trust_forwarded_for` the last
/// `X-Forwarded-For` entry when there is one (`--trust-forwarded-for`).
fn client(parts: &http::request::Parts, trust_forwarded_for: bool) -> Option<SocketAddr> {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| *peer);
    let forwarded = || function_model::last_address(&parts.headers, "x-forwarded-for");
    match (trust_forwarded_for.then(forwarded).flatten(), peer) {
        (Some(ip), peer) => Some(SocketAddr::new(ip, peer.map_or(0, |p| p.port()))),
        (None, peer) => peer,
    }
}

/// The request as the function sees it: what API Gateway's payload 2.0 carries, from `peer`,
/// with what CloudFront adds when `origin_secret` is given.
fn function_request(
    parts: http::request::Parts,
    path_parameters: BTreeMap<String, String>,
    body: Bytes,
    peer: Option<SocketAddr>,
    origin_secret: Option<&str>,
) -> HttpRequest {
    let mut headers = parts.headers;
    if let Some(secret) = origin_secret {
        headers.remove(VIEWER_ADDRESS);
        headers.remove(ORIGIN_VERIFY);
        if let Some(peer) = peer
            && let Ok(viewer) = HeaderValue::try_from(viewer_address(peer))
        {
            headers.insert(VIEWER_ADDRESS, viewer);
        }
        if let Ok(secret) = HeaderValue::try_from(secret) {
            headers.insert(ORIGIN_VERIFY, secret);
        }
    }
    HttpRequest {
        method: parts.method,
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or_default().to_owned(),
        path_parameters,
        // The address that connected; behind CloudFront that would be CloudFront's, but here
        // the emulator is both.
        source_ip: peer.map(|peer| peer.ip()),
        headers,
        body,
    }
}

/// The header CloudFront gives the viewer's address in, and the origin custom header of the
/// template's distribution.
const VIEWER_ADDRESS: &str = "cloudfront-viewer-address";
const ORIGIN_VERIFY: &str = "x-origin-verify";

/// `ip:port` as CloudFront writes it: an IPv6 address without brackets.
fn viewer_address(peer: SocketAddr) -> String {
    format!("{}:{}", peer.ip(), peer.port())
}

async fn invoke(
    services: &Services,
    route: &HttpRoute,
    invocation: &Invocation,
    request: HttpRequest,
) -> Response {
    // Lambda throttles an invocation past the function's reserved concurrency; API Gateway
    // answers that as any refused invocation.
    let _place = match &route.reserved {
        Some(reserved) => match reserved.try_enter() {
            Some(place) => Some(place),
            None => {
                tracing::warn!(
                    function = %route.route.function,
                    "throttled: the function's reserved concurrency is taken \
                     (TooManyRequestsException); API Gateway answers 500"
                );
                return gateway_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
            }
        },
        None => None,
    };
    let invocation = async {
        match services.faults.next(&route.route.function) {
            Some(Fault::Fail { .. }) => return None,
            Some(Fault::Timeout) => std::future::pending::<()>().await,
            Some(Fault::Slow(delay)) => tokio::time::sleep(delay).await,
            None => {}
        }
        Some(route.function.handle(invocation, request).await)
    };
    match tokio::time::timeout(route.timeout, invocation).await {
        Ok(Some(response)) => {
            let mut out = Response::new(Body::from(response.body));
            *out.status_mut() = response.status;
            *out.headers_mut() = response.headers;
            out
        }
        Ok(None) => gateway_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"),
        Err(_) => gateway_error(StatusCode::GATEWAY_TIMEOUT, "Endpoint request timed out"),
    }
}

/// A new X-Ray trace header: `Root=1-<epoch seconds, hex>-<96 random bits, hex>`.
fn new_trace_id() -> String {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("Root=1-{seconds:08x}-{}", &random[..24])
}

/// The request's `Origin`, when it is the configured site origin (the only one the API answers
/// cross-origin requests from).
fn allowed_origin(services: &Services, headers: &HeaderMap) -> Option<HeaderValue> {
    let origin = headers.get(header::ORIGIN)?;
    services
        .cors
        .allow_origins
        .iter()
        .any(|allowed| allowed == "*" || origin.as_bytes() == allowed.as_bytes())
        .then(|| origin.clone())
}

/// The answer to a CORS preflight: what an allowed origin may send, or a refusal.
fn preflight(cors: &Cors, origin: Option<HeaderValue>) -> Response {
    let Some(origin) = origin else {
        return gateway_error(
            StatusCode::FORBIDDEN,
            "This origin may not call the API from a browser.",
        );
    };
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    let lists = [
        (header::ACCESS_CONTROL_ALLOW_METHODS, &cors.allow_methods),
        (header::ACCESS_CONTROL_ALLOW_HEADERS, &cors.allow_headers),
    ];
    for (name, list) in lists {
        if let Ok(value) = HeaderValue::from_str(&list.join(","))
            && !value.is_empty()
        {
            headers.insert(name, value);
        }
    }
    if let Some(max_age) = cors.max_age {
        headers.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from(max_age));
    }
    headers.insert(header::VARY, HeaderValue::from_static("origin"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_function_gets_the_query_string_path_parameters_and_the_source_address() {
        let (mut parts, _) = http::Request::post("/api/registrations?ref=newsletter&x=%20")
            .body(())
            .expect("a request")
            .into_parts();
        let peer: SocketAddr = "192.0.2.7:50000".parse().expect("an address");
        parts.extensions.insert(ConnectInfo(peer));
        let parameters = BTreeMap::from([("id".to_owned(), "42".to_owned())]);
        let client = client(&parts, false);
        let request = function_request(
            parts,
            parameters.clone(),
            Bytes::from_static(b"{}"),
            client,
            None,
        );
        assert_eq!(request.path, "/api/registrations");
        assert_eq!(request.path_parameters, parameters);
        assert_eq!(request.query, "ref=newsletter&x=%20");
        assert_eq!(request.source_ip, Some(peer.ip()));
        assert_eq!(request.body.as_ref(), b"{}");
        assert!(!request.headers.contains_key(VIEWER_ADDRESS));
    }

    #[test]
    fn like_cloudfront_it_gives_the_viewers_address_and_its_secret_in_place_of_the_clients() {
        let (mut parts, _) = http::Request::post("/api/registrations")
            .header(VIEWER_ADDRESS, "203.0.113.1:1")
            .header(ORIGIN_VERIFY, "a guess")
            .body(())
            .expect("a request")
            .into_parts();
        let peer: SocketAddr = "[2001:db8::7]:50000".parse().expect("an address");
        parts.extensions.insert(ConnectInfo(peer));
        let client = client(&parts, false);
        let request =
            function_request(parts, BTreeMap::new(), Bytes::new(), client, Some("secret"));
        assert_eq!(request.header(VIEWER_ADDRESS), Some("2001:db8::7:50000"));
        assert_eq!(request.header(ORIGIN_VERIFY), Some("secret"));
        assert_eq!(request.headers.get_all(VIEWER_ADDRESS).iter().count(), 1);
    }

    #[test]
    fn with_trust_forwarded_for_the_last_entry_is_the_client() {
        let (mut parts, _) = http::Request::post("/api/registrations")
            .header("x-forwarded-for", "198.51.100.1, 203.0.113.9")
            .body(())
            .expect("a request")
            .into_parts();
        let peer: SocketAddr = "127.0.0.1:50000".parse().expect("an address");
        parts.extensions.insert(ConnectInfo(peer));
        assert_eq!(
            client(&parts, false),
            Some(peer),
            "off: the address that connected"
        );
        assert_eq!(
            client(&parts, true),
            Some("203.0.113.9:50000".parse().expect("an address"))
        );
        parts.headers.remove("x-forwarded-for");
        assert_eq!(
            client(&parts, true),
            Some(peer),
            "no header: the address that connected"
        );
    }
}
