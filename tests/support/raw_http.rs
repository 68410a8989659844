//! Some requests no HTTP client would send (a bad chunk, a body shorter than its length, a
//! control character in a header) must still get a clear answer: they are written to a
//! connection byte for byte, and the answer is read off it whole and parsed by hand.

use std::time::Duration;

use serde_json::Value;

use crate::app::TestApp;

/// An answer read off a raw connection (see [`TestApp::raw`]).
#[derive(Debug)]
pub struct RawAnswer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// From the first byte sent to the connection's end.
    pub elapsed: Duration,
}

impl RawAnswer {
    /// A header's value (the first, if repeated), by its name in any case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The error message of a JSON error body: `error` (ours) or `message` (the gateway's, in
    /// API Gateway's shape), if it is a non-empty string.
    pub fn error_message(&self) -> Option<String> {
        if !self.header("content-type")?.starts_with("application/json") {
            return None;
        }
        let body: Value = serde_json::from_str(&self.body).ok()?;
        ["error", "message"]
            .into_iter()
            .find_map(|key| body[key].as_str().filter(|m| !m.is_empty()))
            .map(str::to_owned)
    }
}

/// Parses the one answer in `bytes`: status line, headers, then the body to the end.
fn parse_raw_answer(bytes: &[u8], elapsed: Duration) -> Option<RawAnswer> {
    let text = String::from_utf8_lossy(bytes);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
        .collect();
    Some(RawAnswer {
        status,
        headers,
        body: body.to_owned(),
        elapsed,
    })
}

impl TestApp {
    /// Sends `bytes`, as they are, on a connection of its own, then closes its sending side and
    /// reads until the emulator closes the connection; `None` if there is no complete answer
    /// within `within`. For requests no HTTP client would send.
    pub async fn raw(&self, bytes: &[u8], within: Duration) -> Option<RawAnswer> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let started = std::time::Instant::now();
        let exchange = async {
            let mut stream = tokio::net::TcpStream::connect(self.addr()).await.ok()?;
            // The emulator may answer and close before reading everything: a failed write is fine.
            let _ = stream.write_all(bytes).await;
            let _ = stream.shutdown().await;
            let mut answer = Vec::new();
            let _ = stream.read_to_end(&mut answer).await;
            Some(answer)
        };
        let answer = tokio::time::timeout(within, exchange).await.ok()??;
        let parsed = parse_raw_answer(&answer, started.elapsed())?;
        self.keep_response(parsed.body.clone());
        Some(parsed)
    }
}
