//! The workspace's functions as the emulator knows them: a typed list ([`FunctionCrate`], each by
//! its package and binary, as `template.yaml`'s `rust-cargolambda` functions name them), their
//! binaries built with cargo ([`build_binaries`], which skips cargo when nothing changed, and
//! [`reload`], which builds them again when a source changes) or found in a folder
//! ([`binaries_in`]), and a
//! function process started as a cloud host starts one (`spawn_function_process`). Both hosts use
//! this: the AWS host's Lambda instances and the Azure host's custom handler.

mod cargo_build;
mod crates;
pub mod reload;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, PoisonError};

pub use cargo_build::build_binaries;
pub(crate) use cargo_build::workspace;
pub use crates::{AZURE_HANDLER, FunctionCrate};
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
/// emulator's log under `name` (and into `capture`, when it collects), and killed when dropped.
pub(crate) fn spawn_function_process(
    command: &mut Command,
    name: &str,
    capture: Option<LogCapture>,
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
    if let Some(stdout) = child.stdout.take() {
        tokio::spawn(relay(name.to_owned(), stdout, capture.clone()));
    }
    if let Some(stderr) = child.stderr.take() {
        tokio::spawn(relay(name.to_owned(), stderr, capture));
    }
    Ok(child)
}

/// Copies an instance's output into the emulator's log (and `capture`), a line at a time.
async fn relay(function: String, output: impl AsyncRead + Unpin, capture: Option<LogCapture>) {
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
        tracing::info!(target: "function", "[{function}] {line}");
    }
}
