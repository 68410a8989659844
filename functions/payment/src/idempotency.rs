//! The idempotency records, as the payment function keys, compares and replays them: the
//! `Idempotency-Key` a request is sent with, the fingerprint its body is compared by, and the
//! answer kept for the key and given again. The records themselves live behind the port
//! (`clients::idempotency`); when one is claimed, completed or released is the registration
//! flow's decision (`register.rs`).

use clients::idempotency::{IdempotencyKey, RecordedAnswer};
use function_model::{HttpRequest, HttpResponse};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use sha2::{Digest, Sha256};

/// The request's `Idempotency-Key`, if it has one. A key that is present but unusable (another
/// encoding, too long, sent twice) is an error: ignoring it would let a retry charge twice.
pub(crate) fn key(request: &HttpRequest) -> Result<Option<IdempotencyKey>, &'static str> {
    let mut values = request.headers.get_all("idempotency-key").iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err("must be sent once");
    }
    IdempotencyKey::parse(value.as_bytes()).map(Some)
}

/// What a key's request is compared by: the body's JSON in a canonical form (object keys sorted,
/// no whitespace), so that the same registration serialized another way is the same request.
pub(crate) fn fingerprint(body: &serde_json::Value) -> [u8; 32] {
    fn canonical(value: &serde_json::Value, out: &mut Vec<u8>) {
        match value {
            serde_json::Value::Object(map) => {
                let mut entries: Vec<_> = map.iter().collect();
                entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
                out.push(b'{');
                for (i, (name, value)) in entries.into_iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    serde_json::to_writer(&mut *out, name).expect("a string serializes");
                    out.push(b':');
                    canonical(value, out);
                }
                out.push(b'}');
            }
            serde_json::Value::Array(items) => {
                out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    canonical(item, out);
                }
                out.push(b']');
            }
            scalar => serde_json::to_writer(&mut *out, scalar).expect("a scalar serializes"),
        }
    }
    let mut out = Vec::with_capacity(1024);
    canonical(body, &mut out);
    Sha256::digest(&out).into()
}

/// The answer to keep for a key: status, headers and body.
pub(crate) fn recorded(response: &HttpResponse) -> RecordedAnswer {
    RecordedAnswer {
        status: response.status.as_u16(),
        headers: response
            .headers
            .iter()
            .filter_map(|(name, value)| Some((name.to_string(), value.to_str().ok()?.to_owned())))
            .collect(),
        body: String::from_utf8_lossy(&response.body).into_owned(),
        published: None,
    }
}

/// A kept answer, given again.
pub(crate) fn replayed(answer: RecordedAnswer) -> HttpResponse {
    let headers: HeaderMap = answer
        .headers
        .iter()
        .filter_map(|(name, value)| {
            Some((
                HeaderName::try_from(name.as_str()).ok()?,
                HeaderValue::try_from(value.as_str()).ok()?,
            ))
        })
        .collect();
    HttpResponse {
        status: StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        headers,
        body: answer.body.into(),
    }
}
