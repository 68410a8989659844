//! Which address a request came from, for the card-testing limits: only what a trusted hop says,
//! never a header the client could set.
//!
//! On AWS the site and the API share CloudFront, which reaches API Gateway from its own edge
//! addresses: there `requestContext.http.sourceIp` is CloudFront's, and would put every attendee
//! behind one address. CloudFront adds the viewer's address as `CloudFront-Viewer-Address`
//! (`ip:port`; the template's origin request policy asks for it) and, as an origin custom header,
//! `X-Origin-Verify` with a secret (`ORIGIN_VERIFY_SECRET`) that a client does not know. A request
//! that carries the secret came through CloudFront, and its viewer address is the client's; any
//! other request (one sent to the API's own URL, past CloudFront) is counted by the address that
//! connected, whatever headers it sends. On Azure, and in the emulator, the host's adapter already
//! gives the connecting client (`source_ip`).

use std::net::{IpAddr, SocketAddr};

use function_model::HttpRequest;

/// The header CloudFront puts the viewer's address in.
const VIEWER_ADDRESS: &str = "cloudfront-viewer-address";
/// The origin custom header that proves a request came through CloudFront.
const ORIGIN_VERIFY: &str = "x-origin-verify";

/// The client's address: CloudFront's viewer address when the request proves it came through
/// CloudFront (`origin_secret`), otherwise the address that connected.
pub(crate) fn client_address(request: &HttpRequest, origin_secret: Option<&str>) -> Option<IpAddr> {
    let through_cloudfront = origin_secret.is_some_and(|secret| {
        request
            .headers
            .get(ORIGIN_VERIFY)
            .is_some_and(|sent| constant_time_eq(sent.as_bytes(), secret.as_bytes()))
    });
    if through_cloudfront
        && let Some(viewer) = request.header(VIEWER_ADDRESS).and_then(viewer_address)
    {
        return Some(viewer);
    }
    request.source_ip
}

/// `198.51.100.10:46532` or `2001:db8::1:46532` (CloudFront writes IPv6 without brackets; the
/// port is after the last colon); a bracketed form is read too.
fn viewer_address(raw: &str) -> Option<IpAddr> {
    let raw = raw.trim();
    if let Ok(socket) = raw.parse::<SocketAddr>() {
        return Some(socket.ip());
    }
    let (ip, port) = raw.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    ip.parse().ok()
}

/// Compares without stopping at the first difference, so that the time taken does not tell a
/// guesser how much of the secret they have right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "origin secret";

    fn request(headers: &[(&'static str, &str)]) -> HttpRequest {
        let mut request = HttpRequest {
            method: http::Method::POST,
            path: "/api/registrations".into(),
            query: String::new(),
            path_parameters: Default::default(),
            source_ip: Some([130, 176, 0, 1].into()),
            headers: Default::default(),
            body: Default::default(),
        };
        for (name, value) in headers {
            request
                .headers
                .insert(*name, value.parse().expect("a header value"));
        }
        request
    }

    #[test]
    fn through_cloudfront_the_viewer_is_the_client() {
        let through = |viewer: &str| {
            client_address(
                &request(&[(ORIGIN_VERIFY, SECRET), (VIEWER_ADDRESS, viewer)]),
                Some(SECRET),
            )
        };
        assert_eq!(
            through("198.51.100.10:46532"),
            Some([198, 51, 100, 10].into())
        );
        assert_eq!(
            through("2001:db8::1:46532"),
            Some("2001:db8::1".parse().expect("an address"))
        );
        assert_eq!(
            through("[2001:db8::2]:443"),
            Some("2001:db8::2".parse().expect("an address"))
        );
        // A viewer address that does not read is not a reason to trust anything else.
        assert_eq!(through("somewhere"), Some([130, 176, 0, 1].into()));
    }

    #[test]
    fn a_header_the_client_set_is_not_trusted() {
        let forged = [(VIEWER_ADDRESS, "203.0.113.9:1")];
        assert_eq!(
            client_address(&request(&forged), Some(SECRET)),
            Some([130, 176, 0, 1].into()),
            "no secret: the address that connected"
        );
        let guessed = [
            (ORIGIN_VERIFY, "origin secreT"),
            (VIEWER_ADDRESS, "203.0.113.9:1"),
        ];
        assert_eq!(
            client_address(&request(&guessed), Some(SECRET)),
            Some([130, 176, 0, 1].into()),
            "a wrong secret"
        );
        let sent = [(ORIGIN_VERIFY, SECRET), (VIEWER_ADDRESS, "203.0.113.9:1")];
        assert_eq!(
            client_address(&request(&sent), None),
            Some([130, 176, 0, 1].into()),
            "no CloudFront in front (ORIGIN_VERIFY_SECRET unset)"
        );
    }
}
