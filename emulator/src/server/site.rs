//! The static site (`web/`) and the inspector's page, built into the binary: each file served
//! with a strong validator and gzip when the client takes it, always revalidated, so that a new
//! build shows at once.

use std::io::Write;
use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::Digest;

use crate::state::Services;

/// The site's files and the inspector's page, by path.
pub(super) fn routes() -> Router<Arc<Services>> {
    Router::new()
        .route("/", get(|h: HeaderMap| asset(&INDEX_HTML, h)))
        .route("/app.js", get(|h: HeaderMap| asset(&APP_JS, h)))
        .route("/style.css", get(|h: HeaderMap| asset(&STYLE_CSS, h)))
        .route("/openapi.json", get(|h: HeaderMap| asset(&OPENAPI_JSON, h)))
        .route("/_emulator", get(|h: HeaderMap| asset(&INSPECTOR_HTML, h)))
        .route(
            "/_emulator/inspector.js",
            get(|h: HeaderMap| asset(&INSPECTOR_JS, h)),
        )
        .route(
            "/_emulator/inspector.css",
            get(|h: HeaderMap| asset(&INSPECTOR_CSS, h)),
        )
}

/// A file of the site or the inspector, built into the binary, with its validator and its gzip
/// form made once, at first use.
struct Asset {
    content_type: &'static str,
    body: &'static str,
    prepared: OnceLock<Prepared>,
}

struct Prepared {
    /// A strong validator: the start of the body's SHA-256.
    etag: HeaderValue,
    gzip: Bytes,
}

impl Asset {
    const fn new(content_type: &'static str, body: &'static str) -> Self {
        Self {
            content_type,
            body,
            prepared: OnceLock::new(),
        }
    }

    fn prepared(&self) -> &Prepared {
        self.prepared.get_or_init(|| {
            let digest = sha2::Sha256::digest(self.body.as_bytes());
            let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
            let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            gzip.write_all(self.body.as_bytes())
                .expect("compressing into memory cannot fail");
            Prepared {
                etag: HeaderValue::from_str(&format!("\"{hex}\"")).expect("hex is a header value"),
                gzip: gzip
                    .finish()
                    .expect("compressing into memory cannot fail")
                    .into(),
            }
        })
    }
}

static INDEX_HTML: Asset = Asset::new(
    "text/html; charset=utf-8",
    include_str!("../../../web/index.html"),
);
static APP_JS: Asset = Asset::new(
    "text/javascript; charset=utf-8",
    include_str!("../../../web/app.js"),
);
static STYLE_CSS: Asset = Asset::new(
    "text/css; charset=utf-8",
    include_str!("../../../web/style.css"),
);
static OPENAPI_JSON: Asset = Asset::new(
    "application/json",
    include_str!("../../../web/openapi.json"),
);
static INSPECTOR_HTML: Asset = Asset::new(
    "text/html; charset=utf-8",
    include_str!("../../inspector/index.html"),
);
static INSPECTOR_JS: Asset = Asset::new(
    "text/javascript; charset=utf-8",
    include_str!("../../inspector/inspector.js"),
);
static INSPECTOR_CSS: Asset = Asset::new(
    "text/css; charset=utf-8",
    include_str!("../../inspector/inspector.css"),
);

/// Serves `asset`: `304` when the client's copy is current (`If-None-Match`), gzip when the
/// client accepts it; always revalidated (`no-cache`), so that a new build shows at once.
async fn asset(asset: &'static Asset, request: HeaderMap) -> Response {
    let prepared = asset.prepared();
    let mut headers = HeaderMap::new();
    headers.insert(header::ETAG, prepared.etag.clone());
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    let current = request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|tag| {
            let tag = tag.trim();
            tag == "*" || tag.trim_start_matches("W/").as_bytes() == prepared.etag.as_bytes()
        });
    if current {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    let gzip = request
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';');
            let name = parts.next().unwrap_or_default().trim();
            let refused = parts.any(|q| matches!(q.trim(), "q=0" | "q=0.0" | "q=0.00" | "q=0.000"));
            name.eq_ignore_ascii_case("gzip") && !refused
        });
    if gzip {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        (headers, prepared.gzip.clone()).into_response()
    } else {
        (headers, asset.body).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn fetch(headers: &[(&'static str, &str)]) -> (StatusCode, HeaderMap, Bytes) {
        let mut request = HeaderMap::new();
        for (name, value) in headers {
            request.insert(*name, HeaderValue::from_str(value).expect("a header value"));
        }
        let response = asset(&APP_JS, request).await;
        let status = response.status();
        let headers = response.headers().clone();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("a body");
        (status, headers, body)
    }

    #[tokio::test]
    async fn static_files_are_compressed_and_revalidated() {
        let (status, plain_headers, plain) = fetch(&[]).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(plain.as_ref(), APP_JS.body.as_bytes());
        let etag = plain_headers[header::ETAG]
            .to_str()
            .expect("text")
            .to_owned();

        let (_, headers, gzipped) = fetch(&[("accept-encoding", "br, gzip;q=0.8")]).await;
        assert_eq!(headers[header::CONTENT_ENCODING], "gzip");
        assert!(
            gzipped.len() * 3 < plain.len(),
            "{} of {}",
            gzipped.len(),
            plain.len()
        );
        let mut unzipped = String::new();
        std::io::Read::read_to_string(
            &mut flate2::read::GzDecoder::new(gzipped.as_ref()),
            &mut unzipped,
        )
        .expect("valid gzip");
        assert_eq!(unzipped, APP_JS.body);

        let (_, headers, _) = fetch(&[("accept-encoding", "gzip;q=0")]).await;
        assert!(
            !headers.contains_key(header::CONTENT_ENCODING),
            "gzip refused"
        );

        let (status, headers, body) = fetch(&[("if-none-match", &etag)]).await;
        assert_eq!(status, StatusCode::NOT_MODIFIED);
        assert!(body.is_empty());
        assert_eq!(headers[header::ETAG], etag.as_str());
        let (status, _, _) = fetch(&[("if-none-match", "\"stale\"")]).await;
        assert_eq!(status, StatusCode::OK);
    }
}
