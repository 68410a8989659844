//! The emulator's HTTP face, on one port: the static site at `/` ([`site`]), the API gateway at
//! `/api/*` (`crate::gateway`), AWS's own APIs for the SDKs (`crate::aws::api`), the inspector at
//! `/_emulator` (a page) and `/_emulator/api/*` (JSON, `crate::inspector`), and the local
//! providers at `/_providers/{paypal,sendgrid,mailchimp}` (`crate::local_providers`).
//!
//! Connections pass the front door first ([`front`]: request heads checked, slow clients cut off),
//! then the [`middleware`] that every answer shares: the security headers, JSON errors, bodies read
//! whole within `Limits::body_timeout`, and no writes from another site.

mod front;
mod headers;
mod middleware;
mod scanner;
mod site;

use std::sync::Arc;

use axum::Router;
use axum::middleware::from_fn;
use axum::middleware::from_fn_with_state;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::Limits;
use crate::state::Services;

/// Serves every part of the emulator on `listener` until `shutdown` turns true.
pub(crate) async fn serve(
    listener: TcpListener,
    services: Arc<Services>,
    limits: Limits,
    shutdown: watch::Receiver<bool>,
) {
    let app = Router::new()
        .merge(site::routes())
        .merge(crate::gateway::routes())
        .merge(crate::aws::api::routes())
        .merge(crate::inspector::routes())
        .with_state(services.clone())
        .nest("/_providers/paypal", services.paypal.router())
        .nest("/_providers/sendgrid", services.sendgrid.router())
        .nest("/_providers/mailchimp", services.mailchimp.router())
        .layer(from_fn(middleware::guard_writes))
        .layer(from_fn_with_state(limits, middleware::buffer_body))
        .layer(from_fn(middleware::json_errors))
        .layer(from_fn(middleware::security_headers));
    front::serve(listener, app, limits, shutdown).await;
}
