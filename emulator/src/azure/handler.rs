//! The custom handler process, run as the Functions host runs it: started in the app's folder
//! with `FUNCTIONS_CUSTOMHANDLER_PORT` and the app's settings, waited for until it listens (the
//! host allows 60 s), started again if it exits, and sent each invocation as
//! `POST /{FunctionName}` with `X-Azure-Functions-InvocationId`. An invocation that outlives the
//! function timeout restarts the handler, as the host restarts a worker that timed out: whatever
//! else it was running stops there too.
//!
//! Reload on save serves a new build by starting it beside the running one, on a port of its
//! own: once it listens, invocations go to it, and the previous process is stopped when the last
//! invocation sent to it has answered.

use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use function_model::azure::INVOCATION_ID_HEADER;
use serde_json::Value;
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, watch};

use crate::functions::reload::Reloadable;

/// How long the handler has to listen after it starts (the Functions host's limit).
const STARTUP: Duration = Duration::from_secs(60);

/// What the emulator starts. Not `Debug`: its environment holds the providers' secrets.
#[derive(Clone)]
pub struct HandlerSpec {
    pub executable: PathBuf,
    /// The app's folder: the working directory and `AzureWebJobsScriptRoot`.
    pub app_dir: PathBuf,
    /// The app's settings.
    pub environment: Vec<(String, String)>,
}

/// Why an invocation did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    #[error("the custom handler could not be reached: {0}")]
    Unreachable(String),
    #[error("the invocation timed out after {0:?} (functionTimeout)")]
    TimedOut(Duration),
    #[error("the invocation failed ({status}): {logs}")]
    Failed { status: u16, logs: String },
}

/// A running custom handler.
pub struct CustomHandler {
    /// The process invocations are sent to; an invocation holds it until it has its answer.
    current: Current,
    /// The executable it was started with (cargo's path for it).
    built_from: PathBuf,
    /// New builds to serve, for the supervisor, each with what it answers once it has.
    reloads: mpsc::UnboundedSender<Reload>,
    client: reqwest::Client,
    stop: watch::Sender<bool>,
    restart: Arc<tokio::sync::Notify>,
    /// Whether the handler listens: false while it restarts, when the host sends nothing.
    readiness: watch::Receiver<bool>,
}

impl CustomHandler {
    /// Starts the handler and waits until it listens; a handler that exits or never listens is
    /// an error with what it printed.
    pub async fn start(spec: HandlerSpec) -> anyhow::Result<Arc<Self>> {
        let port = free_port()?;
        let mut child = spawn(&spec, port)?;
        listening(&mut child, &spec, port).await?;
        tracing::info!(port, executable = %spec.executable.display(), "custom handler listening");
        let (stop, stopping) = watch::channel(false);
        let (ready, readiness) = watch::channel(true);
        let restart = Arc::new(tokio::sync::Notify::new());
        let current: Current = Arc::new(Mutex::new(Arc::new(Process { port })));
        let (reloads, reloaded) = mpsc::unbounded_channel();
        let built_from = spec.executable.clone();
        tokio::spawn(supervise(Supervised {
            spec,
            current: current.clone(),
            child,
            stopping,
            restart: restart.clone(),
            reloads: reloaded,
            ready,
        }));
        Ok(Arc::new(Self {
            current,
            built_from,
            reloads,
            client: reqwest::Client::builder()
                .no_proxy()
                .build()
                .map_err(|e| anyhow::anyhow!("an HTTP client: {e}"))?,
            stop,
            restart,
            readiness,
        }))
    }

    /// Sends one invocation of `function` with `payload`; the invocation response on success.
    pub async fn invoke(
        &self,
        function: &str,
        payload: &Value,
        timeout: Duration,
    ) -> Result<Value, InvokeError> {
        let mut readiness = self.readiness.clone();
        if tokio::time::timeout(STARTUP, readiness.wait_for(|ready| *ready))
            .await
            .is_err()
        {
            return Err(InvokeError::Unreachable(format!(
                "it has not listened again within {STARTUP:?}"
            )));
        }
        let process = current_process(&self.current);
        let request = self
            .client
            .post(format!("http://127.0.0.1:{}/{function}", process.port))
            .header(INVOCATION_ID_HEADER, uuid::Uuid::new_v4().to_string())
            .json(payload)
            .send();
        let response = match tokio::time::timeout(timeout, request).await {
            Err(_) => {
                tracing::warn!(
                    function,
                    "timed out after {timeout:?}: restarting the custom handler"
                );
                self.restart.notify_one();
                return Err(InvokeError::TimedOut(timeout));
            }
            Ok(Err(e)) => return Err(InvokeError::Unreachable(e.to_string())),
            Ok(Ok(response)) => response,
        };
        let status = response.status();
        let body: Value = response
            .json()
            .await
            .map_err(|e| InvokeError::Unreachable(format!("an unreadable answer: {e}")))?;
        if status.is_success() {
            Ok(body)
        } else {
            let logs = body["Logs"]
                .as_array()
                .map(|lines| {
                    lines
                        .iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join("; ")
                })
                .unwrap_or_default();
            Err(InvokeError::Failed {
                status: status.as_u16(),
                logs,
            })
        }
    }

    /// Stops the handler (and no longer restarts it).
    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }
}

impl Drop for CustomHandler {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Reloadable for CustomHandler {
    fn built_from(&self) -> &Path {
        &self.built_from
    }

    /// Returns once the new build listens and takes the invocations (or failed to start, and the
    /// previous one keeps serving), so that a build reported served is served. Called from reload
    /// on save's own thread, never from the async runtime.
    fn serve(&self, executable: PathBuf) {
        let (served, done) = tokio::sync::oneshot::channel();
        if self.reloads.send((executable, served)).is_ok() {
            let _ = done.blocking_recv();
        }
    }
}

/// A new build to serve, and what to tell once it serves (or could not start).
type Reload = (PathBuf, tokio::sync::oneshot::Sender<()>);

/// A handler process invocations are sent to. Each invocation holds its `Arc` until it has its
/// answer, so a process replaced by a new build is stopped once only the supervisor holds it.
struct Process {
    port: u16,
}

type Current = Arc<Mutex<Arc<Process>>>;

fn current_process(current: &Current) -> Arc<Process> {
    current
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
}

fn free_port() -> std::io::Result<u16> {
    let probe = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(probe.local_addr()?.port())
}

fn spawn(spec: &HandlerSpec, port: u16) -> anyhow::Result<Child> {
    let mut command = Command::new(&spec.executable);
    command
        .current_dir(&spec.app_dir)
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("FUNCTIONS_CUSTOMHANDLER_PORT", port.to_string())
        .env("FUNCTIONS_WORKER_RUNTIME", "custom")
        .env("AzureWebJobsScriptRoot", &spec.app_dir)
        .env("WEBSITE_SITE_NAME", "emulator")
        .envs(spec.environment.iter().map(|(k, v)| (k, v)));
    crate::functions::spawn_function_process(&mut command, "handler", None, None)
        .map_err(|e| anyhow::anyhow!("could not start {}: {e}", spec.executable.display()))
}

/// Waits until the handler listens on `port`; an error if it exits first or takes longer than
/// the host allows.
async fn listening(child: &mut Child, spec: &HandlerSpec, port: u16) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + STARTUP;
    loop {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Ok(());
        }
        if let Some(status) = child.try_wait()? {
            anyhow::bail!(
                "the custom handler {} exited at start ({status}); its log is above",
                spec.executable.display()
            );
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "the custom handler {} did not listen on port {port} within {STARTUP:?}",
            spec.executable.display()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

struct Supervised {
    spec: HandlerSpec,
    current: Current,
    child: Child,
    stopping: watch::Receiver<bool>,
    restart: Arc<tokio::sync::Notify>,
    reloads: mpsc::UnboundedReceiver<Reload>,
    ready: watch::Sender<bool>,
}

/// Restarts the handler when it exits or an invocation timed out, and serves new builds, until
/// stopped; then kills it. While it restarts, nothing is sent to it.
async fn supervise(mut supervised: Supervised) {
    enum Event {
        Exited(std::io::Result<ExitStatus>),
        Restart,
        Reload(Reload),
        Stop,
    }
    let Supervised {
        spec,
        current,
        child,
        stopping,
        restart,
        reloads,
        ready,
    } = &mut supervised;
    loop {
        let event = tokio::select! {
            status = child.wait() => Event::Exited(status),
            () = restart.notified() => Event::Restart,
            Some(reload) = reloads.recv() => Event::Reload(reload),
            _ = stopping.wait_for(|stop| *stop) => Event::Stop,
        };
        if let Event::Reload((executable, served)) = event {
            let previous = std::mem::replace(&mut spec.executable, executable);
            match start_beside(spec).await {
                Ok((port, new)) => {
                    let old = std::mem::replace(child, new);
                    let replaced = std::mem::replace(
                        &mut *current.lock().unwrap_or_else(PoisonError::into_inner),
                        Arc::new(Process { port }),
                    );
                    tracing::info!(port, "the custom handler's new build listens");
                    tokio::spawn(retire(replaced, old));
                }
                Err(e) => {
                    spec.executable = previous;
                    tracing::error!(
                        "the new build of the custom handler did not start ({e:#}); the previous one keeps serving"
                    );
                }
            }
            let _ = served.send(());
            continue;
        }
        ready.send_replace(false);
        let exited = match event {
            Event::Exited(status) => status,
            Event::Restart => {
                let _ = child.kill().await;
                child.wait().await
            }
            Event::Stop => {
                let _ = child.kill().await;
                return;
            }
            Event::Reload(_) => unreachable!("served above"),
        };
        let port = current_process(current).port;
        tracing::warn!("the custom handler stopped ({exited:?}); starting it again");
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let started = match spawn(spec, port) {
                Ok(mut new) => listening(&mut new, spec, port).await.map(|()| new),
                Err(e) => Err(e),
            };
            match started {
                Ok(new) => {
                    *child = new;
                    break;
                }
                Err(e) => tracing::error!("{e:#}; trying again"),
            }
        }
        ready.send_replace(true);
    }
}

/// Starts `spec` on a port of its own and waits until it listens.
async fn start_beside(spec: &HandlerSpec) -> anyhow::Result<(u16, Child)> {
    let port = free_port()?;
    let mut child = spawn(spec, port)?;
    listening(&mut child, spec, port).await?;
    Ok((port, child))
}

/// Stops a replaced handler process once no invocation holds it (at most the host's longest
/// function timeout, 10 minutes, later).
async fn retire(process: Arc<Process>, mut child: Child) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(600);
    while Arc::strong_count(&process) > 1 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = child.kill().await;
    tracing::debug!(
        port = process.port,
        "the custom handler's previous build stopped"
    );
}
