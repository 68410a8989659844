//! The static site (`web/`) and the inspector's page, built into the binary: each file served
//! with a strong validator and gzip when the client takes it, always revalidated, so that a new
//! build shows at once. With reload on save (`Services::live_site`), each file is read from the
//! workspace at each request instead, so that a saved change to the site shows at the next
//! reload of the page; a file that cannot be read there is served as built.

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::Digest;

use crate::state::Services;

/// The site's files and the inspector's page, by path.
pub(super) fn routes() -> Router<Arc<Services>> {
    Router::new()
        .route(
            "/",
            get(
                |State(services): State<Arc<Services>>, h: HeaderMap| async move {
                    asset(&INDEX_HTML, services.live_site.as_deref(), h).await
                },
            ),
        )
        .route(
            "/app.js",
            get(
                |State(services): State<Arc<Services>>, h: HeaderMap| async move {
                    asset(&APP_JS, services.live_site.as_deref(), h).await
                },
            ),
        )
        .route(
            "/style.css",
            get(
                |State(services): State<Arc<Services>>, h: HeaderMap| async move {
                    asset(&STYLE_CSS, services.live_site.as_deref(), h).await
                },
            ),
        )
        .route(
            "/openapi.json",
            get(
                |State(services): State<Arc<Services>>, h: HeaderMap| async move {
                    asset(&OPENAPI_JSON, services.live_site.as_deref(), h).await
                },
            ),
        )
        .route(
            "/_emulator",
            get(
                |State(services): State<Arc<Services>>, h: HeaderMap| async move {
                    asset(&INSPECTOR_HTML, services.live_site.as_deref(), h).await
                },
            ),
        )
        .route(
            "/_emulator/inspector.js",
            get(
                |State(services): State<Arc<Services>>, h: HeaderMap| async move {
                    asset(&INSPECTOR_JS, services.live_site.as_deref(), h).await
                },
            ),
        )
        .route(
            "/_emulator/inspector.css",
            get(
                |State(services): State<Arc<Services>>, h: HeaderMap| async move {
                    asset(&INSPECTOR_CSS, services.live_site.as_deref(), h).await
                },
            ),
        )
}

/// A file of the site or the inspector, built into the binary, with its validator and its gzip
/// form made once, at first use.
struct Asset {
    content_type: &'static str,
    /// Where it is in the workspace.
    source: &'static str,
    body: &'static str,
    prepared: OnceLock<Prepared>,
}

struct Prepared {
    /// A strong validator: the start of the body's SHA-256.
    etag: HeaderValue,
    gzip: Bytes,
}

impl Asset {
    const fn new(content_type: &'static str, source: &'static str, body: &'static str) -> Self {
        Self {
            content_type,
            source,
            body,
            prepared: OnceLock::new(),
        }
    }

    fn prepared(&self) -> &Prepared {
        self.prepared
            .get_or_init(|| Prepared::of(self.body.as_bytes(), flate2::Compression::best()))
    }
}

impl Prepared {
    fn of(body: &[u8], compression: flate2::Compression) -> Self {
        let digest = sha2::Sha256::digest(body);
        let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), compression);
        gzip.write_all(body)
            .expect("compressing into memory cannot fail");
        Prepared {
            etag: HeaderValue::from_str(&format!("\"{hex}\"")).expect("hex is a header value"),
            gzip: gzip
                .finish()
                .expect("compressing into memory cannot fail")
                .into(),
        }
    }
}

static INDEX_HTML: Asset = Asset::new(
    "text/html; charset=utf-8",
    "web/index.html",
    include_str!("../../../web/index.html"),
);
static APP_JS: Asset = Asset::new(
    "text/javascript; charset=utf-8",
    "web/app.js",
    include_str!("../../../web/app.js"),
);
static STYLE_CSS: Asset = Asset::new(
    "text/css; charset=utf-8",
    "web/style.css",
    include_str!("../../../web/style.css"),
);
static OPENAPI_JSON: Asset = Asset::new(
    "application/json",
    "web/openapi.json",
    include_str!("../../../web/openapi.json"),
);
static INSPECTOR_HTML: Asset = Asset::new(
    "text/html; charset=utf-8",
    "emulator/inspector/index.html",
    include_str!("../../inspector/index.html"),
);
static INSPECTOR_JS: Asset = Asset::new(
    "text/javascript; charset=utf-8",
    "emulator/inspector/inspector.js",
    include_str!("../../inspector/inspector.js"),
);
static INSPECTOR_CSS: Asset = Asset::new(
    "text/css; charset=utf-8",
    "emulator/inspector/inspector.css",
    include_str!("../../inspector/inspector.css"),
);

/// Serves `asset` (from the workspace at `live`, if given and readable there): `304` when the
/// client's copy is current (`If-None-Match`), gzip when the client accepts it; always
/// revalidated (`no-cache`), so that a new build shows at once.
async fn asset(asset: &'static Asset, live: Option<&Path>, request: HeaderMap) -> Response {
    let saved = match live {
        Some(workspace) => tokio::fs::read(workspace.join(asset.source)).await.ok(),
        None => None,
    };
    let (body, fresh) = match saved {
        Some(saved) => {
            let prepared = Prepared::of(&saved, flate2::Compression::fast());
            (Bytes::from(saved), Some(prepared))
        }
        None => (Bytes::from_static(asset.body.as_bytes()), None),
    };
    let prepared = fresh.as_ref().unwrap_or_else(|| asset.prepared());
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
        (headers, body).into_response()
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
        let response = asset(&APP_JS, None, request).await;
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

    #[tokio::test]
    async fn with_reload_on_save_a_file_is_read_from_the_workspace_at_each_request() {
        let workspace = tempfile::tempdir().expect("a temporary directory");
        std::fs::create_dir_all(workspace.path().join("web")).expect("made");
        std::fs::write(workspace.path().join("web/app.js"), "saved();").expect("written");
        let response = asset(&APP_JS, Some(workspace.path()), HeaderMap::new()).await;
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("a body");
        assert_eq!(body.as_ref(), b"saved();");

        let elsewhere = tempfile::tempdir().expect("a temporary directory");
        let response = asset(&APP_JS, Some(elsewhere.path()), HeaderMap::new()).await;
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("a body");
        assert_eq!(
            body.as_ref(),
            APP_JS.body.as_bytes(),
            "as built, when not found"
        );
    }
}
