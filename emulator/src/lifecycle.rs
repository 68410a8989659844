//! A started emulator's life: [`launch`] starts the server and the loops that feed the wiring's
//! queues (and, on AWS, the resumer of executions left by a stopped emulator); a clean
//! [`RunningEmulator::shutdown`] stops taking work, drains what is in flight, and closes the
//! database, so that whatever is unfinished resumes at the next start.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use durable::{Db, Executions};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::aws::step_functions::LocalStepFunctions;
use crate::azure::handler::CustomHandler;
use crate::config::{Cloud, Config, Functions};
use crate::functions::AZURE_HANDLER;
use crate::functions::reload::{self, Reloadable, Watched};
use crate::state::{Platform, Services, Wiring};

/// Serves `wiring` on `listener` and starts its pollers (unless the configuration leaves the
/// queues to SQS clients).
pub(crate) fn launch(
    config: &Config,
    platform: Platform,
    wiring: Wiring,
    listener: TcpListener,
) -> anyhow::Result<RunningEmulator> {
    let addr = listener.local_addr()?;
    let provider_environment = platform.local_settings(config)[Platform::PROVIDERS].concat();
    let Platform {
        db,
        store,
        records,
        faults,
        providers,
        executions,
        invocations,
        ..
    } = platform;
    let (stop_work, stopping) = watch::channel(false);
    let (stop_server, server_stopping) = watch::channel(false);
    let build = match watched(config, wiring.reloadable) {
        Some(watched) => reload::start(watched, stopping.clone())?,
        None => reload::not_watching(),
    };
    let live_site = build.borrow().watching.then(crate::functions::workspace);
    let services = Arc::new(Services {
        routes: wiring.routes,
        cors: wiring.cors,
        origin_secret: wiring.origin_secret,
        trust_forwarded_for: config.trust_forwarded_for,
        reserved_concurrency: wiring.reserved_concurrency,
        queues: wiring.queues,
        step_functions: wiring.step_functions.clone(),
        executions: executions.clone(),
        workflow: wiring.workflow,
        store,
        records,
        paypal: providers.paypal,
        sendgrid: providers.sendgrid,
        mailchimp: providers.mailchimp,
        faults,
        lambda_functions: wiring.lambda_functions,
        invocations,
        stopping: stopping.clone(),
        live_site,
        build,
    });
    let mut workers = Vec::new();
    if let Some(step_functions) = &wiring.step_functions {
        workers.push(tokio::spawn(
            step_functions.clone().resume_lapsed(stopping.clone()),
        ));
    }
    if config.event_sources {
        for poller in wiring.pollers {
            workers.push(tokio::spawn(poller(stopping.clone())));
        }
    }
    let server = tokio::spawn(crate::server::serve(
        listener,
        services,
        config.limits,
        server_stopping,
    ));
    Ok(RunningEmulator {
        addr,
        stop_work,
        stop_server,
        workers,
        server: Some(server),
        step_functions: wiring.step_functions,
        executions,
        handler: wiring.handler,
        drain_timeout: config.drain_timeout,
        db,
        provider_environment,
    })
}

/// What reload on save watches and serves, when it is on: the binaries cargo built (the AWS
/// functions', or the Azure Function App's custom handler) and the topology's files.
fn watched(config: &Config, served: Vec<Arc<dyn Reloadable>>) -> Option<Watched> {
    if !config.reload_on_save {
        return None;
    }
    let (binaries, topology) = match (&config.cloud, &config.functions) {
        (Cloud::Aws, Functions::Process(binaries)) => {
            (binaries.clone(), vec![config.template.clone()])
        }
        (Cloud::Aws, Functions::InProcess) => return None,
        (Cloud::Azure(azure), _) => (
            HashMap::from([(AZURE_HANDLER.1.to_owned(), azure.handler.clone())]),
            vec![azure.app_dir.clone()],
        ),
    };
    Some(Watched {
        binaries,
        served,
        topology,
    })
}

/// A started emulator.
pub struct RunningEmulator {
    addr: SocketAddr,
    /// Stops the gateway, the queue poller and the resumer: no new work.
    stop_work: watch::Sender<bool>,
    /// Stops the HTTP server, which also hosts the local providers that running tasks call.
    stop_server: watch::Sender<bool>,
    workers: Vec<JoinHandle<()>>,
    server: Option<JoinHandle<()>>,
    step_functions: Option<Arc<LocalStepFunctions>>,
    executions: Executions,
    /// The Azure Function App's custom handler, stopped once the triggers have drained.
    handler: Option<Arc<CustomHandler>>,
    drain_timeout: Duration,
    db: Db,
    /// The variables that point a function process at the providers the emulator's functions use.
    provider_environment: Vec<(&'static str, String)>,
}

impl RunningEmulator {
    /// The variables that point a function binary at the PayPal, SendGrid and Mailchimp the
    /// emulator's functions use (its local ones, unless real ones were configured), as the
    /// emulator gives them to the processes it starts. They hold the providers' secrets.
    pub fn provider_environment(&self) -> &[(&'static str, String)] {
        &self.provider_environment
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Waits up to `within` for the execution `name` to stop (succeed or fail), and returns it as
    /// it stands then (`None` if it was never started).
    pub async fn wait_for_execution(
        &self,
        name: &str,
        within: Duration,
    ) -> anyhow::Result<Option<durable::ExecutionSummary>> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let summary = self.executions.get(name).await?.map(|r| r.summary);
            let stopped = summary
                .as_ref()
                .is_some_and(|s| s.status != durable::ExecutionStatus::Running);
            if stopped || tokio::time::Instant::now() >= deadline {
                return Ok(summary);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops taking new work (requests, queue messages, executions to resume), lets in-flight
    /// requests and batches finish, waits for running executions up to the drain timeout, and
    /// closes the database. Whatever is unfinished then is in the database, and resumes at the
    /// next start.
    pub async fn shutdown(mut self) {
        let _ = self.stop_work.send(true);
        for worker in std::mem::take(&mut self.workers) {
            let _ = worker.await;
        }
        if let Some(step_functions) = &self.step_functions {
            step_functions.drain(self.drain_timeout).await;
        }
        if let Some(handler) = &self.handler {
            handler.stop();
        }
        let _ = self.stop_server.send(true);
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
        self.db.close().await;
    }
}

impl Drop for RunningEmulator {
    /// Dropped without `shutdown`: signal the server and the pollers to stop anyway.
    fn drop(&mut self) {
        let _ = self.stop_work.send(true);
        let _ = self.stop_server.send(true);
    }
}
