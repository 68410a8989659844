//! The local cloud: one process that hosts the whole registration system, with no Docker and no
//! cloud account.
//!
//! It runs the topology that deploys: `template.yaml`'s on AWS ([`aws`]: the gateway, the queues
//! and their event source mappings, a local Step Functions running the very ASL file that
//! deploys, the functions as their binaries under the Lambda Runtime API or as their libraries in
//! this process), or the Function App's on Azure ([`azure`]: the Functions host running its custom
//! handler). Everything the emulator accepts is kept in one database (SQLite by default,
//! PostgreSQL by `DATABASE_URL`): queue messages, workflow executions with their checkpoints,
//! idempotency records, orders and the local providers' records, so that a crash or a restart
//! loses nothing (see the `durable` crate). The functions use the real PayPal, SendGrid and
//! Mailchimp clients, pointed at local servers that speak those providers' wire formats
//! ([`local_providers`]), or at the real services when their settings are given. An inspector
//! (`inspector`) shows what happened and injects faults.
//!
//! Layout, in the order [`start`] runs: [`config`] (what can be tuned), `state` (the platform
//! both hosts stand on, a host's wiring, what the handlers reach), [`aws`] or [`azure`] (a host
//! wires its topology), `lifecycle` (serve, poll, drain, shut down), `server` (the one port:
//! the front door, the middleware, the static site) with `gateway` (and its `throttle`) and
//! `inspector` behind it;
//! [`functions`] (the workspace's function binaries) and [`names`] (ARNs and URLs) serve them all.

pub mod aws;
pub mod azure;
pub mod config;
pub mod functions;
mod gateway;
mod inspector;
pub mod invoke;
mod lifecycle;
pub mod local_providers;
pub mod names;
mod server;
mod state;
mod throttle;

use tokio::net::TcpListener;

pub use config::{
    AzureConfig, Cloud, Config, Functions, Limits, Providers, site_origin, workspace_template,
};
pub use lifecycle::RunningEmulator;

/// Serves the configured cloud's topology (the SAM template's, or the Azure Function App's) on
/// `listener`.
pub async fn start(config: Config, listener: TcpListener) -> anyhow::Result<RunningEmulator> {
    let base = format!("http://{}", listener.local_addr()?);
    let platform = state::Platform::open(&config, base).await?;
    let wiring = match &config.cloud {
        Cloud::Aws => aws::wire(&config, &platform)?,
        Cloud::Azure(azure) => azure::wire(&config, azure, &platform).await?,
    };
    lifecycle::launch(&config, platform, wiring, listener)
}
