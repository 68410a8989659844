//! The functions' binaries built by cargo for the emulator, and cargo left out when nothing they
//! are built from changed.
//!
//! `cargo run -p emulator` has just built the emulator; the functions' binaries are built by a
//! second `cargo build` of the same profile, with the emulator's package selected so that their
//! dependencies get the same features (so it shares the first's artifacts); reload on save
//! (`reload`) runs the same command.
//! Even with nothing to do, that second cargo takes about 300 ms (it reads the whole workspace and
//! every fingerprint), which was most of the time to ready. So after a build the emulator writes a
//! stamp beside its own binary (`functions-build.json` in `target/<profile>/`): when cargo
//! started, and each binary's path, size and modification time. At the next start, cargo is left
//! out when every binary is still the one stamped (nothing else, such as a `cargo build -p payment`
//! with other features, wrote it since) and no file it is built from changed after that start:
//! the Rust sources cargo's dep-info (`target/<profile>/<binary>.d`) lists for it, the manifests
//! of the packages they belong to, the workspace's `Cargo.toml` and `Cargo.lock`. What the stamp
//! cannot see (`RUSTFLAGS`, another toolchain, a registry crate edited in place) needs a
//! `cargo build` by hand, or deleting the stamp.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::crates::{AZURE_HANDLER, FunctionCrate};

/// The stamp's file name, in the folder of the emulator's own binary.
const STAMP: &str = "functions-build.json";

/// What a build produced and when it began.
#[derive(Debug, Serialize, Deserialize)]
struct Stamp {
    /// The workspace the binaries were built from: another checkout sharing the target folder
    /// (a global `CARGO_TARGET_DIR`) writes the same binaries, from its own sources.
    workspace: PathBuf,
    /// When cargo started: a source changed after this may not be in the binaries.
    started: Modified,
    /// Each binary by name.
    binaries: BTreeMap<String, Built>,
}

/// A binary as the stamped build left it.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Built {
    path: PathBuf,
    len: u64,
    modified: Modified,
}

/// A file's modification time, in nanoseconds since the Unix epoch (JSON has no wider integer
/// that every reader keeps, so seconds and nanoseconds apart).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
struct Modified {
    secs: u64,
    nanos: u32,
}

impl Modified {
    fn of(time: SystemTime) -> Self {
        let since = time
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        Self {
            secs: since.as_secs(),
            nanos: since.subsec_nanos(),
        }
    }

    fn of_file(path: &Path) -> Option<Self> {
        Some(Self::of(std::fs::metadata(path).ok()?.modified().ok()?))
    }
}

impl Built {
    fn of(path: &Path) -> Option<Self> {
        let metadata = std::fs::metadata(path).ok()?;
        Some(Self {
            path: path.to_owned(),
            len: metadata.len(),
            modified: Modified::of(metadata.modified().ok()?),
        })
    }
}

/// The binaries this emulator runs: the five Lambda functions' and the Azure Function App's custom
/// handler.
fn wanted() -> Vec<&'static str> {
    FunctionCrate::ALL
        .map(FunctionCrate::binary)
        .into_iter()
        .chain([AZURE_HANDLER.1])
        .collect()
}

/// Returns the functions' binaries by name (the five Lambda functions' and the Azure Function
/// App's custom handler), built with cargo as `cargo run -p emulator` was built (the same
/// packages' features, so the build shares its artifacts; `--release` for a release emulator),
/// or, when the stamp says nothing changed since the last such build, without running cargo.
pub fn build_binaries() -> anyhow::Result<HashMap<String, PathBuf>> {
    let stamp = stamp_path();
    if let Some(binaries) = stamp
        .as_deref()
        .and_then(|stamp| up_to_date(stamp, &workspace()))
    {
        return Ok(binaries);
    }
    println!("Building the functions' binaries with cargo…");
    let started = SystemTime::now();
    let output = cargo_command()
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| anyhow::anyhow!("could not run cargo to build the functions: {e}"))?;
    anyhow::ensure!(
        output.status.success(),
        "cargo could not build the functions ({})",
        output.status
    );
    let binaries = artifacts(&String::from_utf8_lossy(&output.stdout))?;
    write_stamp(started, &binaries);
    Ok(binaries)
}

/// Where the stamp is kept: beside the emulator's own binary.
fn stamp_path() -> Option<PathBuf> {
    Some(std::env::current_exe().ok()?.parent()?.join(STAMP))
}

/// Records that `binaries` were built by a cargo that started at `started`.
pub(super) fn write_stamp(started: SystemTime, binaries: &HashMap<String, PathBuf>) {
    let Some(stamp) = stamp_path() else { return };
    let built = Stamp {
        workspace: canonical(&workspace()),
        started: Modified::of(started),
        binaries: binaries
            .iter()
            .filter_map(|(name, path)| Some((name.clone(), Built::of(path)?)))
            .collect(),
    };
    let written = serde_json::to_vec_pretty(&built)
        .map_err(std::io::Error::other)
        .and_then(|json| std::fs::write(&stamp, json));
    if let Err(e) = written {
        tracing::warn!(
            "could not write {} (the next start runs cargo again): {e}",
            stamp.display()
        );
    }
}

/// The stamped binaries, if `stamp` says they are still what the files of `workspace` would build.
fn up_to_date(stamp: &Path, workspace: &Path) -> Option<HashMap<String, PathBuf>> {
    let stamp: Stamp = serde_json::from_slice(&std::fs::read(stamp).ok()?).ok()?;
    if stamp.workspace != canonical(workspace) {
        return None;
    }
    let mut binaries = HashMap::new();
    for name in wanted() {
        let built = stamp.binaries.get(name)?;
        if Built::of(&built.path).as_ref() != Some(built) {
            return None;
        }
        binaries.insert(name.to_owned(), built.path.clone());
    }
    inputs(&binaries, workspace)?
        .iter()
        .all(|input| Modified::of_file(input).is_some_and(|modified| modified < stamp.started))
        .then_some(binaries)
}

/// The files `binaries` are built from: the sources their dep-info lists, the manifests of the
/// packages those belong to, and `workspace`'s `Cargo.toml` and `Cargo.lock`; `None` when a
/// binary has no dep-info.
pub(super) fn inputs(
    binaries: &HashMap<String, PathBuf>,
    workspace: &Path,
) -> Option<BTreeSet<PathBuf>> {
    let mut sources = BTreeSet::new();
    for binary in binaries.values() {
        sources.extend(dep_info(&binary.with_extension("d"))?);
    }
    let mut inputs: BTreeSet<PathBuf> =
        [workspace.join("Cargo.toml"), workspace.join("Cargo.lock")]
            .into_iter()
            .collect();
    for source in &sources {
        if let Some(manifest) = source
            .ancestors()
            .skip(1)
            .map(|dir| dir.join("Cargo.toml"))
            .find(|manifest| manifest.is_file())
        {
            inputs.insert(manifest);
        }
    }
    inputs.extend(sources);
    Some(inputs)
}

/// The files cargo's dep-info at `path` lists (`target: a.rs b.rs …`, a space in a path escaped
/// as `\ `).
fn dep_info(path: &Path) -> Option<Vec<PathBuf>> {
    let text = std::fs::read_to_string(path).ok()?;
    let (_, files) = text.lines().next()?.split_once(": ")?;
    let mut paths = Vec::new();
    let mut current = String::new();
    let mut chars = files.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => current.extend(chars.next()),
            ' ' if !current.is_empty() => paths.push(PathBuf::from(std::mem::take(&mut current))),
            ' ' => {}
            c => current.push(c),
        }
    }
    paths.extend((!current.is_empty()).then(|| PathBuf::from(current)));
    Some(paths)
}

/// `cargo build` of the functions' binaries with the features `cargo run -p emulator` gives
/// their dependencies (the emulator's package is selected, its binary is not built), printing
/// JSON messages on its standard output (see [`artifacts`]) and the compiler's diagnostics on its
/// standard error.
pub(super) fn cargo_command() -> std::process::Command {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = std::process::Command::new(cargo);
    command
        .arg("build")
        .arg("--manifest-path")
        .arg(workspace().join("Cargo.toml"))
        .args(["--message-format", "json-render-diagnostics"])
        .args(["-p", "emulator"]);
    for package in FunctionCrate::ALL
        .map(FunctionCrate::binary)
        .iter()
        .chain([&AZURE_HANDLER.0])
    {
        command.args(["-p", package]);
    }
    for binary in wanted() {
        command.args(["--bin", binary]);
    }
    if !cfg!(debug_assertions) {
        command.arg("--release");
    }
    command
}

/// The functions' binaries, from the JSON messages of a successful [`cargo_command`].
pub(super) fn artifacts(messages: &str) -> anyhow::Result<HashMap<String, PathBuf>> {
    let wanted = wanted();
    let mut binaries = HashMap::new();
    for line in messages.lines() {
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

/// `path` without `..` or links, as the stamp records a workspace (itself if that fails).
fn canonical(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_owned())
}

/// The workspace the emulator was built from.
pub(crate) fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A workspace in a temporary folder: a package with one source file, the six binaries
    /// built from it (any bytes), their dep-info, and the stamp of that build.
    fn built_workspace() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let root = dir.path();
        for file in [
            "Cargo.toml",
            "Cargo.lock",
            "pkg/Cargo.toml",
            "pkg/src/lib.rs",
        ] {
            std::fs::create_dir_all(root.join(file).parent().expect("a parent")).expect("made");
            std::fs::write(root.join(file), "").expect("written");
        }
        let started = Modified::of(SystemTime::now());
        std::fs::create_dir_all(root.join("target")).expect("made");
        let mut binaries = BTreeMap::new();
        for name in wanted() {
            let binary = root.join("target").join(name);
            std::fs::write(&binary, "a binary").expect("written");
            std::fs::write(
                binary.with_extension("d"),
                format!(
                    "{}: {}\n",
                    binary.display(),
                    root.join("pkg/src/lib.rs").display()
                ),
            )
            .expect("written");
            binaries.insert(name.to_owned(), Built::of(&binary).expect("built"));
        }
        let stamp = root.join("target").join(STAMP);
        let workspace = canonical(root);
        let json = serde_json::to_vec(&Stamp {
            workspace,
            started,
            binaries,
        })
        .expect("serialises");
        std::fs::write(&stamp, json).expect("written");
        (dir, stamp)
    }

    /// Moves a file's modification time a second on, as an editor's save would.
    fn touch(path: &Path) {
        let file = std::fs::File::options()
            .write(true)
            .open(path)
            .expect("opens");
        file.set_modified(SystemTime::now() + std::time::Duration::from_secs(1))
            .expect("set");
    }

    #[test]
    fn nothing_changed_since_the_stamped_build_needs_no_cargo() {
        let (dir, stamp) = built_workspace();
        let binaries = up_to_date(&stamp, dir.path()).expect("up to date");
        assert_eq!(binaries.len(), 6);
        assert_eq!(binaries["payment"], dir.path().join("target/payment"));
    }

    #[test]
    fn a_changed_source_or_manifest_needs_cargo() {
        for changed in [
            "pkg/src/lib.rs",
            "pkg/Cargo.toml",
            "Cargo.lock",
            "Cargo.toml",
        ] {
            let (dir, stamp) = built_workspace();
            touch(&dir.path().join(changed));
            assert_eq!(up_to_date(&stamp, dir.path()), None, "{changed} changed");
        }
    }

    #[test]
    fn binaries_stamped_for_another_checkout_need_cargo() {
        // Another checkout, older than this build, whose own files would all pass the checks.
        let (other, _) = built_workspace();
        let (dir, stamp) = built_workspace();
        assert!(up_to_date(&stamp, dir.path()).is_some());
        assert_eq!(up_to_date(&stamp, other.path()), None);
    }

    #[test]
    fn a_binary_written_by_another_build_needs_cargo() {
        let (dir, stamp) = built_workspace();
        std::fs::write(dir.path().join("target/email"), "another build").expect("written");
        assert_eq!(up_to_date(&stamp, dir.path()), None);
        let (dir, stamp) = built_workspace();
        std::fs::remove_file(dir.path().join("target/email.d")).expect("removed");
        assert_eq!(up_to_date(&stamp, dir.path()), None, "no dep-info");
    }

    #[test]
    fn dep_info_lists_the_files_with_escaped_spaces() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("payment.d");
        std::fs::write(
            &path,
            "/t/release/payment: /w/src/lib.rs /w/my\\ dir/main.rs\n\n/w/src/lib.rs:\n",
        )
        .expect("written");
        assert_eq!(
            dep_info(&path),
            Some(vec![
                PathBuf::from("/w/src/lib.rs"),
                PathBuf::from("/w/my dir/main.rs")
            ])
        );
    }
}
