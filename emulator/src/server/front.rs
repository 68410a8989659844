//! The HTTP/1.1 front door: accepts connections and checks each request's head before hyper reads
//! it, so that every request the emulator refuses gets a JSON answer.
//!
//! hyper answers a malformed head with an empty `400` and a slow one by closing the connection
//! without a word. Here each head is read in full (within [`Limits::head_timeout`] of its first
//! byte, at most [`Limits::max_head_bytes`]) and parsed with httparse (the parser hyper uses) and
//! the `http` types (which hyper builds from it), before hyper sees any of it. A head that fails is
//! withheld: hyper sees the connection end after the requests before it, finishes their answers,
//! and on closing the connection the front writes a `400`, `408` or `431` with a JSON `error` and
//! closes. Bodies pass through as they come; the front follows their framing (`Content-Length` or
//! chunked) only to find where the next head starts, and stops checking heads on a connection
//! whose framing it cannot follow (hyper then fails the body and the app answers `400`).
//!
//! Request bodies are held to a deadline by the app (see `middleware.rs`), which knows the route.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use bytes::Buf;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Sleep;

use super::scanner::{Refusal, Scanner};
use crate::config::Limits;

/// Serves `app` on `listener` until `shutdown` turns true, then lets open connections finish
/// their requests.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, for instance: wait, as axum::serve does.
                    tracing::warn!("could not accept a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = stopped(&mut shutdown) => break,
        };
        // Handlers read the client's address as axum's `ConnectInfo`.
        let service = TowerToHyperService::new(tower::ServiceExt::map_request(
            app.clone(),
            move |mut request: http::Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                request
            },
        ));
        let mut shutdown = shutdown.clone();
        connections.spawn(async move {
            // No hyper timer: the front times heads itself, and bodies are timed by the app.
            let connection = hyper::server::conn::http1::Builder::new()
                // Answer the requests already read when the front withholds a bad head (which
                // hyper sees as the client closing its side).
                .half_close(true)
                .serve_connection(TokioIo::new(Guarded::new(stream, limits)), service);
            tokio::pin!(connection);
            tokio::select! {
                result = connection.as_mut() => log_connection_end(result),
                () = stopped(&mut shutdown) => {
                    connection.as_mut().graceful_shutdown();
                    log_connection_end(connection.await);
                }
            }
        });
        while connections.try_join_next().is_some() {}
    }
    while connections.join_next().await.is_some() {}
}

/// Resolves once `shutdown` turns true (or its sender is gone).
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

fn log_connection_end(result: Result<(), hyper::Error>) {
    if let Err(e) = result {
        tracing::debug!("connection ended: {e}");
    }
}

/// The connection as hyper sees it: bytes are handed over only once the head they belong to
/// passed [`check_head`].
struct Guarded {
    stream: TcpStream,
    scanner: Scanner,
    /// Set when the first byte of a head arrives.
    head_deadline: Option<Pin<Box<Sleep>>>,
    /// The refusal's bytes, once hyper is done, and how much of them is written.
    refusal: Option<(Vec<u8>, usize)>,
    /// The client closed its side.
    eof: bool,
}

impl Guarded {
    fn new(stream: TcpStream, limits: Limits) -> Self {
        Self {
            stream,
            scanner: Scanner::new(limits),
            head_deadline: None,
            refusal: None,
            eof: false,
        }
    }
}

impl AsyncRead for Guarded {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            let scanner = &mut this.scanner;
            if !scanner.ready.is_empty() {
                let n = scanner.ready.len().min(buf.remaining());
                buf.put_slice(&scanner.ready[..n]);
                scanner.ready.advance(n);
                return Poll::Ready(Ok(()));
            }
            if scanner.refusal.is_some() || this.eof {
                // The end of the connection, as far as hyper knows.
                return Poll::Ready(Ok(()));
            }
            if let Some(deadline) = this.head_deadline.as_mut()
                && deadline.as_mut().poll(cx).is_ready()
            {
                let secs = scanner.limits.head_timeout.as_secs();
                scanner.refuse(Refusal {
                    status: 408,
                    reason: "Request Timeout",
                    message: format!("The request's headers did not arrive within {secs} s."),
                });
                continue;
            }
            let mut chunk = [0u8; 8 * 1024];
            let mut read = ReadBuf::new(&mut chunk);
            ready!(Pin::new(&mut this.stream).poll_read(cx, &mut read))?;
            if read.filled().is_empty() {
                this.eof = true;
                if scanner.in_head() {
                    scanner.refuse(Refusal::bad_request(
                        "The connection was closed before the request's headers ended.",
                    ));
                }
                continue;
            }
            scanner.take(read.filled());
            match (scanner.in_head(), this.head_deadline.is_some()) {
                (true, false) => {
                    this.head_deadline =
                        Some(Box::pin(tokio::time::sleep(scanner.limits.head_timeout)));
                }
                (false, true) => this.head_deadline = None,
                _ => {}
            }
        }
    }
}

impl AsyncWrite for Guarded {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    /// As the socket: hyper then writes a response's head and body with one `writev`.
    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    /// Writes the refusal, if there is one, after everything hyper wrote; then closes.
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.refusal.is_none()
            && let Some(refusal) = &this.scanner.refusal
        {
            this.refusal = Some((refusal.to_bytes(), 0));
        }
        if let Some((bytes, written)) = &mut this.refusal {
            while *written < bytes.len() {
                let n = ready!(Pin::new(&mut this.stream).poll_write(cx, &bytes[*written..]))?;
                if n == 0 {
                    return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                }
                *written += n;
            }
            ready!(Pin::new(&mut this.stream).poll_flush(cx))?;
        }
        Pin::new(&mut this.stream).poll_shutdown(cx)
    }
}
