//! The workspace's functions as the emulator knows them: a typed list ([`FunctionCrate`], each by
//! its package and binary, as `template.yaml`'s `rust-cargolambda` functions name them), their
//! binaries built with cargo ([`build_binaries`]) or found in a folder ([`binaries_in`]), and a
//! function process started as a cloud host starts one (`spawn_function_process`). Both hosts use
//! this: the AWS host's Lambda instances and the Azure host's custom handler.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};

/// One of the workspace's five function packages; each has one binary of its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FunctionCrate {
    Payment,
    Orchestrator,
    SaveOrder,
    Email,
    MailingList,
}

impl FunctionCrate {
    /// Every function, in the order of the flow.
    pub const ALL: [Self; 5] = [
        Self::Payment,
        Self::Orchestrator,
        Self::SaveOrder,
        Self::Email,
        Self::MailingList,
    ];

    /// The package's name, which is also its binary's.
    pub fn binary(self) -> &'static str {
        match self {
            Self::Payment => "payment",
            Self::Orchestrator => "orchestrator",
            Self::SaveOrder => "save-order",
            Self::Email => "email",
            Self::MailingList => "mailing-list",
        }
    }

    /// The function whose binary is `name`, if it is one of the workspace's.
    pub fn from_binary(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|function| function.binary() == name)
    }
}

/// The Azure Function App's package and its one binary, the custom handler.
pub const AZURE_HANDLER: (&str, &str) = ("azure-app", "handler");

/// Builds the functions' binaries with cargo, as `cargo run -p emulator` was built (the same
/// packages' features, so the build shares its artifacts; `--release` for a release emulator),
/// and returns their paths by binary name: the five Lambda functions', and the Azure Function
/// App's custom handler.
pub fn build_binaries() -> anyhow::Result<HashMap<String, PathBuf>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    let mut command = std::process::Command::new(cargo);
    command
        .arg("build")
        .arg("--manifest-path")
        .arg(&manifest)
        .args(["--message-format", "json-render-diagnostics", "--bins"])
        .args(["-p", "emulator"]);
    for package in FunctionCrate::ALL
        .map(FunctionCrate::binary)
        .iter()
        .chain([&AZURE_HANDLER.0])
    {
        command.args(["-p", package]);
    }
    if !cfg!(debug_assertions) {
        command.arg("--release");
    }
    let output = command
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| anyhow::anyhow!("could not run cargo to build the functions: {e}"))?;
    anyhow::ensure!(
        output.status.success(),
        "cargo could not build the functions ({})",
        output.status
    );
    let wanted: Vec<&str> = FunctionCrate::ALL
        .map(FunctionCrate::binary)
        .into_iter()
        .chain([AZURE_HANDLER.1])
        .collect();
    let mut binaries = HashMap::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Ok(message) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        if message["reason"] != "compiler-artifact" {
            continue;
        }
        if let (Some(name), Some(executable)) = (
            message["target"]["name"].as_str(),
            message["executable"].as_str(),
        ) && wanted.contains(&name)
        {
            binaries.insert(name.to_owned(), PathBuf::from(executable));
        }
    }
    for binary in wanted {
        anyhow::ensure!(
            binaries.contains_key(binary),
            "cargo built no binary named {binary}"
        );
    }
    Ok(binaries)
}

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

/// Starts a function's process as a cloud host does: with the variables `command` was given (and
/// the emulator's `RUST_LOG` unless it sets one), no input, its output copied into the
/// emulator's log under `name`, and killed when dropped.
pub(crate) fn spawn_function_process(command: &mut Command, name: &str) -> std::io::Result<Child> {
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
        tokio::spawn(relay(name.to_owned(), stdout));
    }
    if let Some(stderr) = child.stderr.take() {
        tokio::spawn(relay(name.to_owned(), stderr));
    }
    Ok(child)
}

/// Copies an instance's output into the emulator's log, a line at a time.
async fn relay(function: String, output: impl AsyncRead + Unpin) {
    let mut lines = BufReader::new(output).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        tracing::info!(target: "function", "[{function}] {line}");
    }
}
