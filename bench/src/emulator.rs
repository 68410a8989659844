//! Building, starting and stopping the emulator under test.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};

/// The template's throttling of the registration route lifted: it would hold the bench to 20
/// registrations a second (its default), and the bench measures the emulator, not the template.
const UNTHROTTLED: [&str; 2] = [
    "RegistrationRateLimit=1000000",
    "RegistrationBurstLimit=1000000",
];

/// How long the emulator may take to answer its health check.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How often the health check is asked while starting.
const READY_POLL: Duration = Duration::from_millis(5);
/// How long the emulator may take to stop after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// The function packages the emulator builds in process mode (`emulator::functions`), built here
/// first with the same arguments so that its own build at start is a no-op.
const FUNCTION_PACKAGES: [&str; 6] = [
    "payment",
    "orchestrator",
    "save-order",
    "email",
    "mailing-list",
    "azure-app",
];

/// Runs `cargo build --release` of the emulator (and the functions' binaries) in `workspace` and
/// returns the emulator it built.
pub fn build(workspace: &Path) -> anyhow::Result<PathBuf> {
    // `cargo run` tells the program which cargo ran it.
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(&cargo);
    command.args(["build", "--release", "--bins", "-p", "emulator"]);
    for package in FUNCTION_PACKAGES {
        command.args(["-p", package]);
    }
    let status = command
        .current_dir(workspace)
        .status()
        .with_context(|| format!("could not run {} build", cargo.to_string_lossy()))?;
    ensure!(
        status.success(),
        "cargo build --release of the emulator and the functions failed ({status})"
    );
    // A relative CARGO_TARGET_DIR is relative to where cargo ran: the workspace.
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| workspace.join("target"), |dir| workspace.join(dir));
    let binary = target.join("release").join("emulator");
    ensure!(
        binary.is_file(),
        "cargo built the emulator but {} does not exist",
        binary.display()
    );
    Ok(binary)
}

/// A running emulator. Dropping it kills the process if it still runs.
pub struct Emulator {
    child: Child,
    pub pid: u32,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// Where its stdout and stderr go.
    pub log: PathBuf,
    /// How it was started, as a shell line.
    pub command: String,
    started: Instant,
}

impl Emulator {
    /// Starts `binary --port <free port> --functions <functions>` (`process` or `in-process`)
    /// with `DATABASE_URL=database_url`, logging to `emulator.log` in `dir`. Provider settings
    /// (`PAYPAL_*`, `SENDGRID_*`, `MAILCHIMP_*`) are not passed on: the bench measures the local
    /// providers, never the real services.
    pub fn spawn(
        binary: &Path,
        functions: &str,
        database_url: &str,
        dir: &Path,
    ) -> anyhow::Result<Self> {
        let port = free_port()?;
        let log = dir.join("emulator.log");
        let stdout =
            File::create(&log).with_context(|| format!("could not create {}", log.display()))?;
        let stderr = stdout
            .try_clone()
            .context("could not share the log file between stdout and stderr")?;
        let mut command = Command::new(binary);
        command
            .args(["--port", &port.to_string(), "--functions", functions])
            .arg("--parameter-overrides")
            .args(UNTHROTTLED)
            .env("DATABASE_URL", database_url)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr);
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy();
            if ["PAYPAL_", "SENDGRID_", "MAILCHIMP_"]
                .iter()
                .any(|prefix| name.starts_with(prefix))
            {
                command.env_remove(name.as_ref());
            }
        }
        let started = Instant::now();
        let child = command
            .spawn()
            .with_context(|| format!("could not start {}", binary.display()))?;
        Ok(Self {
            pid: child.id(),
            child,
            url: format!("http://127.0.0.1:{port}"),
            log,
            command: format!(
                "DATABASE_URL={} RUST_LOG=warn {} --port {port} --functions {functions} \
                 --parameter-overrides {}",
                shell_quote(&without_password(database_url)),
                shell_quote(&binary.to_string_lossy()),
                UNTHROTTLED.join(" ")
            ),
            started,
        })
    }

    /// Waits until `GET /_emulator/api/health` answers 200 and returns the time since the spawn.
    pub async fn wait_ready(&mut self, client: &reqwest::Client) -> anyhow::Result<Duration> {
        let health = format!("{}/_emulator/api/health", self.url);
        loop {
            let answer = client
                .get(&health)
                .timeout(Duration::from_secs(1))
                .send()
                .await;
            if answer.is_ok_and(|response| response.status() == reqwest::StatusCode::OK) {
                return Ok(self.started.elapsed());
            }
            if let Some(status) = self.exited()? {
                bail!("the emulator exited ({status}) before it was ready");
            }
            ensure!(
                self.started.elapsed() < READY_TIMEOUT,
                "the emulator was not ready within {} s",
                READY_TIMEOUT.as_secs()
            );
            tokio::time::sleep(READY_POLL).await;
        }
    }

    /// The emulator's exit status, if it has exited.
    pub fn exited(&mut self) -> anyhow::Result<Option<ExitStatus>> {
        self.child
            .try_wait()
            .context("could not ask whether the emulator still runs")
    }

    /// Prints the end of the log, for a reader when the bench fails.
    pub fn print_log_tail(&self) {
        const LINES: usize = 20;
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        eprintln!("emulator log: {}", self.log.display());
        for line in &lines[lines.len().saturating_sub(LINES)..] {
            eprintln!("  {line}");
        }
    }

    /// Sends SIGTERM and waits for a clean exit; returns how long that took.
    pub async fn stop(&mut self) -> anyhow::Result<Duration> {
        if let Some(status) = self.exited()? {
            bail!("the emulator had already exited ({status})");
        }
        let asked = Instant::now();
        let kill = Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status()
            .context("could not run kill -TERM")?;
        ensure!(kill.success(), "kill -TERM {} failed ({kill})", self.pid);
        loop {
            if let Some(status) = self.exited()? {
                ensure!(
                    status.success(),
                    "the emulator exited with {status} after SIGTERM"
                );
                return Ok(asked.elapsed());
            }
            ensure!(
                asked.elapsed() < STOP_TIMEOUT,
                "the emulator did not stop within {} s of SIGTERM",
                STOP_TIMEOUT.as_secs()
            );
            tokio::time::sleep(READY_POLL).await;
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            // Best effort: the bench is failing or has failed already.
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A port on 127.0.0.1 that nothing listens on right now.
fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))
        .context("could not find a free port on 127.0.0.1")?;
    Ok(listener.local_addr().context("no local address")?.port())
}

/// `url` with any password replaced by `***`, to be printed.
fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, path) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((userinfo, host)) if userinfo.contains(':') => {
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}{path}")
        }
        _ => url.to_owned(),
    }
}

/// `text` as one shell word.
pub fn shell_quote(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c));
    if plain {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}
