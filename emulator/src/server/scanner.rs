//! The checking half of the front door, without the socket: it reads the client's bytes as they
//! come, finds each request head, checks it as hyper will read it (httparse, then the `http`
//! types), follows the body's framing (`Content-Length` or chunked) to the next head, and releases
//! the bytes of acceptable requests; a head it refuses becomes a JSON answer ([`Refusal`]).

use std::borrow::Cow;

use bytes::BytesMut;

use super::headers::SECURITY_HEADERS;
use crate::config::Limits;

/// The most headers a request may have (hyper's own limit).
const MAX_HEADERS: usize = 100;

/// A refused request head: the status and message the front answers with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Refusal {
    pub(super) status: u16,
    pub(super) reason: &'static str,
    pub(super) message: String,
}

impl Refusal {
    pub(super) fn bad_request(message: impl Into<String>) -> Self {
        Self {
            status: 400,
            reason: "Bad Request",
            message: message.into(),
        }
    }

    pub(super) fn too_large(message: impl Into<String>) -> Self {
        Self {
            status: 431,
            reason: "Request Header Fields Too Large",
            message: message.into(),
        }
    }

    /// The whole answer, as bytes on the wire.
    pub(super) fn to_bytes(&self) -> Vec<u8> {
        let body = serde_json::json!({ "error": self.message }).to_string();
        let mut out = format!(
            "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
            self.status,
            self.reason,
            body.len()
        );
        for (name, value) in SECURITY_HEADERS {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
        out.push_str("\r\n");
        out.push_str(&body);
        out.into_bytes()
    }
}

/// Where the front is in the stream of requests on one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// Reading a head.
    Head,
    /// Passing this many more bytes of a `Content-Length` body.
    Body(u64),
    /// Passing a chunked body.
    Chunked(Chunk),
    /// Passing everything: the framing could not be followed (hyper will fail the body).
    Opaque,
}

/// Where the front is in a chunked body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// Reading a chunk's size (hex digits so far, the value) or its extensions.
    Size {
        digits: u8,
        size: u64,
        extension: bool,
    },
    /// The size line's `\n`.
    SizeEnd { size: u64 },
    /// Passing the chunk's data.
    Data(u64),
    /// The `\r\n` after the data.
    DataEnd { seen_cr: bool },
    /// Trailer lines after the last chunk, until an empty one; `line` counts this line's bytes.
    Trailer { line: u32 },
}

/// What a head says about the body after it.
fn body_framing(request: &httparse::Request<'_, '_>) -> Result<Framing, Refusal> {
    let mut transfer_codings = Vec::new();
    let mut lengths = Vec::new();
    for header in request.headers.iter() {
        if header.name.eq_ignore_ascii_case("transfer-encoding") {
            transfer_codings.extend(
                String::from_utf8_lossy(header.value)
                    .split(',')
                    .map(|coding| coding.trim().to_ascii_lowercase()),
            );
        } else if header.name.eq_ignore_ascii_case("content-length") {
            for length in String::from_utf8_lossy(header.value).split(',') {
                let length = length.trim();
                if length.is_empty() || !length.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(Refusal::bad_request(
                        "Content-Length must be a whole number of bytes.",
                    ));
                }
                lengths.push(
                    length
                        .parse::<u64>()
                        .map_err(|_| Refusal::bad_request("Content-Length is too large."))?,
                );
            }
        }
    }
    if !transfer_codings.is_empty() {
        if request.version == Some(0) {
            return Err(Refusal::bad_request(
                "Transfer-Encoding is not allowed in HTTP/1.0.",
            ));
        }
        if !lengths.is_empty() {
            return Err(Refusal::bad_request(
                "Send either Content-Length or Transfer-Encoding, not both.",
            ));
        }
        if transfer_codings.last().map(String::as_str) != Some("chunked") {
            return Err(Refusal::bad_request(
                "Transfer-Encoding must end with chunked.",
            ));
        }
        return Ok(Framing::Chunked(Chunk::Size {
            digits: 0,
            size: 0,
            extension: false,
        }));
    }
    match lengths.split_first() {
        None | Some((0, [])) => Ok(Framing::Head),
        Some((first, rest)) if rest.iter().all(|l| l == first) => Ok(if *first == 0 {
            Framing::Head
        } else {
            Framing::Body(*first)
        }),
        Some(_) => Err(Refusal::bad_request(
            "Content-Length is given with different values.",
        )),
    }
}

/// Checks a complete head the way hyper will read it (hyper builds `http` types from httparse's
/// parse, and answers an empty 400 when that fails); on success, the framing of its body.
fn check_head(request: &httparse::Request<'_, '_>) -> Result<Framing, Refusal> {
    let method = request.method.unwrap_or_default();
    if http::Method::from_bytes(method.as_bytes()).is_err() {
        return Err(Refusal::bad_request("The request method is not valid."));
    }
    let target = request.path.unwrap_or_default();
    if http::Uri::try_from(target).is_err() {
        return Err(Refusal::bad_request(
            "The request target is not a valid URI.",
        ));
    }
    // Header names and values were checked by httparse, by the rules `http`'s types apply (RFC
    // 9110 tokens; no control characters but the tab in values).
    body_framing(request)
}

/// Why httparse refused a head, for the person who sent it.
fn parse_refusal(error: httparse::Error) -> Refusal {
    match error {
        httparse::Error::TooManyHeaders => {
            Refusal::too_large(format!("A request may have at most {MAX_HEADERS} headers."))
        }
        httparse::Error::HeaderName => Refusal::bad_request("A header name is not valid."),
        httparse::Error::HeaderValue => Refusal::bad_request(
            "A header value is not valid (control characters are not allowed).",
        ),
        httparse::Error::Version => {
            Refusal::bad_request("Only HTTP/1.0 and HTTP/1.1 are served here.")
        }
        httparse::Error::Token => Refusal::bad_request("The request method is not valid."),
        httparse::Error::NewLine | httparse::Error::Status => {
            Refusal::bad_request("The request line is malformed.")
        }
    }
}

/// The checking half of the front, without the socket: takes the client's bytes as they come and
/// releases those of acceptable requests.
#[derive(Debug)]
pub(super) struct Scanner {
    pub(super) limits: Limits,
    framing: Framing,
    /// The head being read.
    head: Vec<u8>,
    /// Checked bytes hyper has not read yet.
    pub(super) ready: BytesMut,
    /// Set when a head was refused; nothing more is released.
    pub(super) refusal: Option<Refusal>,
}

impl Scanner {
    pub(super) fn new(limits: Limits) -> Self {
        Self {
            limits,
            framing: Framing::Head,
            head: Vec::new(),
            ready: BytesMut::new(),
            refusal: None,
        }
    }

    /// Whether part of a head has arrived and its end has not.
    pub(super) fn in_head(&self) -> bool {
        !self.head.is_empty()
    }

    pub(super) fn refuse(&mut self, refusal: Refusal) {
        tracing::debug!(
            status = refusal.status,
            "refused a request: {}",
            refusal.message
        );
        self.refusal = Some(refusal);
        self.head.clear();
    }

    /// Takes bytes just read from the client.
    pub(super) fn take(&mut self, input: &[u8]) {
        if self.framing == Framing::Opaque {
            self.ready.extend_from_slice(input);
            return;
        }
        let mut pending = Cow::Borrowed(input);
        let mut at = 0;
        while at < pending.len() && self.refusal.is_none() {
            let input = &pending[at..];
            match self.framing {
                Framing::Head => {
                    self.head.extend_from_slice(input);
                    at = pending.len();
                    if let Some(used) = self.end_of_head() {
                        // What follows the head is its body, or the next head.
                        pending = Cow::Owned(self.head.split_off(used));
                        at = 0;
                        self.ready.extend_from_slice(&self.head);
                        self.head.clear();
                    }
                }
                Framing::Body(remaining) => {
                    let n = usize::try_from(remaining)
                        .unwrap_or(usize::MAX)
                        .min(input.len());
                    self.ready.extend_from_slice(&input[..n]);
                    at += n;
                    let remaining = remaining - n as u64;
                    self.framing = if remaining == 0 {
                        Framing::Head
                    } else {
                        Framing::Body(remaining)
                    };
                }
                Framing::Chunked(chunk) => {
                    let (n, next) = follow_chunk(chunk, input);
                    self.ready.extend_from_slice(&input[..n]);
                    at += n;
                    self.framing = next;
                }
                Framing::Opaque => {
                    self.ready.extend_from_slice(input);
                    at = pending.len();
                }
            }
        }
    }

    /// Parses the head read so far: `Some(length)` when it is complete and acceptable (the
    /// framing is then set for its body), `None` when more is needed or it was refused.
    pub(super) fn end_of_head(&mut self) -> Option<usize> {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut request = httparse::Request::new(&mut headers);
        let too_large = || {
            Refusal::too_large(format!(
                "The request line and headers must fit in {} KiB.",
                self.limits.max_head_bytes / 1024
            ))
        };
        let outcome = match request.parse(&self.head) {
            Ok(httparse::Status::Complete(used)) if used > self.limits.max_head_bytes => {
                Err(too_large())
            }
            Ok(httparse::Status::Complete(used)) => check_head(&request).map(|f| Some((used, f))),
            Ok(httparse::Status::Partial) if self.head.len() > self.limits.max_head_bytes => {
                Err(too_large())
            }
            Ok(httparse::Status::Partial) => Ok(None),
            Err(e) => Err(parse_refusal(e)),
        };
        match outcome {
            Ok(Some((used, framing))) => {
                self.framing = framing;
                Some(used)
            }
            Ok(None) => None,
            Err(refusal) => {
                self.refuse(refusal);
                None
            }
        }
    }
}

/// Follows a chunked body through `input`: how many bytes belong to it, and the framing after
/// them (the next head after the last chunk's trailers; [`Framing::Opaque`] on a framing error).
fn follow_chunk(mut chunk: Chunk, input: &[u8]) -> (usize, Framing) {
    let mut used = 0;
    while used < input.len() {
        let byte = input[used];
        chunk = match chunk {
            Chunk::Data(remaining) => {
                let n = usize::try_from(remaining)
                    .unwrap_or(usize::MAX)
                    .min(input.len() - used);
                used += n;
                let remaining = remaining - n as u64;
                chunk = if remaining == 0 {
                    Chunk::DataEnd { seen_cr: false }
                } else {
                    Chunk::Data(remaining)
                };
                continue;
            }
            Chunk::Size {
                digits,
                size,
                extension,
            } => match byte {
                b'\r' if digits > 0 => Chunk::SizeEnd { size },
                _ if extension => chunk,
                b';' if digits > 0 => Chunk::Size {
                    digits,
                    size,
                    extension: true,
                },
                b' ' | b'\t' if digits > 0 => Chunk::Size {
                    digits,
                    size,
                    extension: true,
                },
                _ if byte.is_ascii_hexdigit() && digits < 16 => Chunk::Size {
                    digits: digits + 1,
                    size: size * 16 + u64::from((byte as char).to_digit(16).unwrap_or(0)),
                    extension,
                },
                _ => return (used, Framing::Opaque),
            },
            Chunk::SizeEnd { size } => match byte {
                b'\n' if size == 0 => Chunk::Trailer { line: 0 },
                b'\n' => Chunk::Data(size),
                _ => return (used, Framing::Opaque),
            },
            Chunk::DataEnd { seen_cr } => match (seen_cr, byte) {
                (false, b'\r') => Chunk::DataEnd { seen_cr: true },
                (true, b'\n') => Chunk::Size {
                    digits: 0,
                    size: 0,
                    extension: false,
                },
                _ => return (used, Framing::Opaque),
            },
            Chunk::Trailer { line } => match byte {
                b'\n' if line <= 1 => return (used + 1, Framing::Head),
                b'\n' => Chunk::Trailer { line: 0 },
                _ => Chunk::Trailer { line: line + 1 },
            },
        };
        used += 1;
    }
    (used, Framing::Chunked(chunk))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `parts` one after the other, as separate reads.
    fn scan(parts: &[&[u8]]) -> Scanner {
        let mut scanner = Scanner::new(Limits::default());
        for part in parts {
            scanner.take(part);
        }
        scanner
    }

    fn refused(parts: &[&[u8]]) -> (u16, String) {
        let refusal = scan(parts).refusal.expect("refused");
        (refusal.status, refusal.message)
    }

    #[test]
    fn passes_requests_whole_and_finds_each_next_head() {
        let requests: &[u8] = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n\
POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello\
POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nTrailer: t\r\n\r\n\
GET /d HTTP/1.1\r\nHost: x\r\n\r\n";
        let whole = scan(&[requests]);
        assert_eq!(whole.ready.as_ref(), requests);
        assert_eq!((whole.framing, whole.refusal), (Framing::Head, None));
        // The same bytes one at a time.
        let parts: Vec<&[u8]> = requests.chunks(1).collect();
        let bytewise = scan(&parts);
        assert_eq!(bytewise.ready.as_ref(), requests);
        assert_eq!(bytewise.framing, Framing::Head);
    }

    #[test]
    fn holds_a_head_back_until_it_ends() {
        let scanner = scan(&[b"GET / HTTP/1.1\r\nHost: x\r\n"]);
        assert!(scanner.ready.is_empty() && scanner.in_head());
    }

    #[test]
    fn refuses_what_hyper_would_refuse_silently() {
        for (head, status) in [
            (&b"GET / HTTP/1.1\r\nX-A: a\x01b\r\n\r\n"[..], 400),
            (b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", 400),
            (b"G(T / HTTP/1.1\r\n\r\n", 400),
            (b"GET / HTTP/2.0\r\n\r\n", 400),
            (b"GET /a b HTTP/1.1\r\n\r\n", 400),
            (b"POST / HTTP/1.1\r\nContent-Length: 12x\r\n\r\n", 400),
            (
                b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                400,
            ),
            (
                b"POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
                400,
            ),
            (b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
            (
                b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
                400,
            ),
            (
                b"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
                400,
            ),
        ] {
            let scanner = scan(&[head]);
            assert_eq!(
                scanner.refusal.map(|r| r.status),
                Some(status),
                "{}",
                String::from_utf8_lossy(head)
            );
        }
        let many: String = (0..=MAX_HEADERS).map(|i| format!("X-{i}: v\r\n")).collect();
        let many = format!("GET / HTTP/1.1\r\n{many}\r\n");
        assert_eq!(refused(&[many.as_bytes()]).0, 431);
        let long = format!("GET /{} HTTP/1.1\r\n", "a".repeat(17 * 1024));
        assert_eq!(
            refused(&[long.as_bytes()]).0,
            431,
            "too large before its end"
        );
        let whole = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(17 * 1024));
        assert_eq!(refused(&[whole.as_bytes()]).0, 431, "too large at its end");
    }

    #[test]
    fn a_refusal_after_a_good_request_keeps_the_good_one() {
        let scanner = scan(&[b"GET / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\nX: \x7f\r\n\r\n"]);
        assert_eq!(scanner.ready.as_ref(), b"GET / HTTP/1.1\r\n\r\n");
        assert!(scanner.refusal.is_some());
    }

    #[test]
    fn a_chunked_body_it_cannot_follow_passes_through() {
        let scanner = scan(&[b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nGET"]);
        assert_eq!(scanner.framing, Framing::Opaque);
        assert!(scanner.ready.ends_with(b"zz\r\nGET"));
    }

    #[test]
    fn the_refusal_is_json_with_the_security_headers() {
        let bytes = Refusal::bad_request("No.").to_bytes();
        let text = String::from_utf8(bytes).expect("ASCII");
        assert!(text.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{text}");
        assert!(text.contains("content-type: application/json\r\n"));
        assert!(text.contains("x-content-type-options: nosniff\r\n"));
        assert!(text.ends_with("\r\n\r\n{\"error\":\"No.\"}"), "{text}");
    }
}
