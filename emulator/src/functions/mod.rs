//! The workspace's functions as the emulator knows them: a typed list ([`FunctionCrate`], each by
//! its package and binary, as `template.yaml`'s `rust-cargolambda` functions name them), their
//! binaries built with cargo ([`build_binaries`], which skips cargo when nothing changed, and
//! [`reload`], which builds them again when a source changes) or found in a folder
//! ([`binaries_in`]), and a
//! function process started as a cloud host starts one (`spawn_function_process`), whose log
//! lines go to the emulator's log and to the recent [`invocations`]. Both hosts use this: the AWS
//! host's Lambda instances and the Azure host's custom handler.

mod cargo_build;
mod crates;
pub mod invocations;
pub mod reload;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, PoisonError};

pub use cargo_build::build_binaries;
pub(crate) use cargo_build::workspace;
pub use crates::{AZURE_HANDLER, FunctionCrate};
use invocations::Invocations;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};

/// The binaries `names` in `dir`, laid out as `cargo lambda build` leaves them
/// (`{dir}/{name}/bootstrap`) or side by side (`{dir}/{name}`).
pub fn binaries_in(dir: &Path, names: &[String]) -> anyhow::Result<HashMap<String, PathBuf>> {
    names
        .iter()
        .map(|name| {
            let candidates = [dir.join(name).join("bootstrap"), dir.join(name)];
            candidates
                .into_iter()
                .find(|path| path.is_file())
                .map(|path| (name.clone(), path))
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "no binary for {name} in {} (looked for {name}/bootstrap and {name})",
                        dir.display()
                    )
                })
        })
        .collect()
}

/// Where a process's output lines are kept while something collects them (one invocation's log,
/// for Lambda's `LogType=Tail`): `None` keeps nothing.
pub(crate) type LogCapture = Arc<Mutex<Option<Vec<String>>>>;

/// Starts a function's process as a cloud host does: with the variables `command` was given (and
/// the emulator's `RUST_LOG` unless it sets one), no input, its output copied into the
/// emulator's log under `name` (and into `capture`, when it collects; and to the invocation a
/// JSON line names, among `invocations`), and killed when dropped.
pub(crate) fn spawn_function_process(
    command: &mut Command,
    name: &str,
    capture: Option<LogCapture>,
    invocations: Option<Arc<Invocations>>,
) -> std::io::Result<Child> {
    if !command
        .as_std()
        .get_envs()
        .any(|(key, _)| key == "RUST_LOG")
    {
        command.env(
            "RUST_LOG",
            std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
        );
    }
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let relay = |output| {
        relay(
            name.to_owned(),
            output,
            capture.clone(),
            invocations.clone(),
        )
    };
    if let Some(stdout) = child.stdout.take() {
        tokio::spawn(relay(Box::new(stdout)));
    }
    if let Some(stderr) = child.stderr.take() {
        tokio::spawn(relay(Box::new(stderr)));
    }
    Ok(child)
}

/// Copies an instance's output into the emulator's log (and `capture`, and the invocation a JSON
/// line names), a line at a time; a JSON line is shown as its level, message and fields.
async fn relay(
    function: String,
    output: Box<dyn AsyncRead + Unpin + Send>,
    capture: Option<LogCapture>,
    invocations: Option<Arc<Invocations>>,
) {
    let mut lines = BufReader::new(output).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if let Some(capture) = &capture
            && let Some(kept) = capture
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .as_mut()
        {
            kept.push(line.clone());
        }
        let json = invocations::json_line(&line);
        if let (Some(invocations), Some(json)) = (&invocations, &json) {
            invocations.printed(json);
        }
        if tracing::enabled!(target: "function", tracing::Level::INFO) {
            match &json {
                Some(json) => {
                    let readable = invocations::readable(json);
                    tracing::info!(target: "function", "[{function}] {readable}");
                }
                None => tracing::info!(target: "function", "[{function}] {line}"),
            }
        }
    }
}
