//! Reload on save: in process mode, the emulator watches the files the functions' binaries are
//! built from, and when one changes it builds them again and serves each binary that changed.
//! New invocations start instances of the new build; the instances of the old one finish what
//! they are doing and exit. Queues, executions and records are the database's, so nothing in
//! flight is lost: a message or an execution half done carries on with the new code. A build that
//! fails prints the compiler's errors, reports them (`/_emulator/api/build`, which the inspector
//! shows) and leaves the last good build serving.
//!
//! What to watch is what a start checks before it skips cargo (`cargo_build`): the workspace's
//! files in the binaries' dep-info, their packages' manifests, `Cargo.toml` and `Cargo.lock`,
//! read again after each build (a new module is in the next dep-info). They are polled, a `stat`
//! each every 300 ms (a few hundred files; no watcher thread per folder, nothing that differs
//! between operating systems), and a build starts once they have been quiet for one poll, so that
//! saving several files makes one build. A change to the topology (`template.yaml`, the Azure
//! app's folder) cannot be applied to a running emulator: it is reported, "restart to apply".
//!
//! Each build served is a hard link (a copy where links cannot be made) of cargo's binary in a
//! folder of this emulator's (`target/<profile>/.reloads/<pid>/<n>/`): cargo replaces its
//! binaries one by one during a build, and an instance started meanwhile must run the last good
//! build, not part of one that may yet fail.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::watch;

use super::cargo_build::{artifacts, cargo_command, inputs, workspace, write_stamp};

/// How often the files are looked at, and how long they must stay unchanged before a build.
const POLL: Duration = Duration::from_millis(300);

/// The most lines of a failed build's output that are kept for the inspector (the first errors
/// are the useful ones; the rest is cargo's summary).
const KEPT_LINES: usize = 400;

/// What serves a function's binary and can be told to serve a new build of it.
pub trait Reloadable: Send + Sync {
    /// The binary it was started with (cargo's path for it).
    fn built_from(&self) -> &Path;
    /// From now on, new instances run `executable`; those of the previous build finish and exit.
    fn serve(&self, executable: PathBuf);
}

/// Where the functions' builds stand, as `/_emulator/api/build` shows it.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildReport {
    /// Whether sources are watched at all (process mode with cargo's binaries, without
    /// `--no-watch`).
    pub watching: bool,
    pub state: BuildState,
    /// How many builds have started since the emulator did.
    pub builds: u64,
    pub started_at: Option<DateTime<Utc>>,
    /// How long the last finished build took.
    pub seconds: Option<f64>,
    /// The binaries whose new build the last successful one served.
    pub reloaded: Vec<String>,
    /// What the compiler printed for the last build, when it failed.
    pub errors: Option<String>,
    /// Files that changed but are only read at start.
    pub restart_to_apply: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BuildState {
    /// No build since the start.
    #[default]
    Idle,
    Building,
    Succeeded,
    Failed,
}

/// What reload on save needs to start.
pub struct Watched {
    /// The binaries being served, by name, as cargo built them.
    pub binaries: HashMap<String, PathBuf>,
    /// What runs them.
    pub served: Vec<Arc<dyn Reloadable>>,
    /// The topology's files (or folders), which only a restart applies.
    pub topology: Vec<PathBuf>,
}

/// Starts watching on a thread of its own, which stops at the first poll after `stopping`; the
/// receiver follows the builds.
pub fn start(
    watched: Watched,
    stopping: watch::Receiver<bool>,
) -> anyhow::Result<watch::Receiver<BuildReport>> {
    let (report, reports) = watch::channel(BuildReport {
        watching: true,
        ..BuildReport::default()
    });
    let folder = reloads_folder(&watched.binaries)?;
    let sources = Snapshot::of(watched_sources(&watched.binaries));
    if sources.times.is_empty() {
        tracing::warn!(
            "reload on save watches no file: the binaries' dep-info names none in {}",
            workspace().display()
        );
    }
    let mut reloader = Reloader {
        identities: watched
            .binaries
            .iter()
            .map(|(name, path)| (name.clone(), identity(path)))
            .collect(),
        sources,
        topology: Snapshot::of(topology_files(&watched.topology)),
        watched,
        folder,
        report,
        serving: HashMap::new(),
    };
    std::thread::Builder::new()
        .name("reload-on-save".into())
        .spawn(move || reloader.run(&stopping))?;
    Ok(reports)
}

/// A report for an emulator that does not watch.
pub fn not_watching() -> watch::Receiver<BuildReport> {
    watch::channel(BuildReport::default()).1
}

struct Reloader {
    watched: Watched,
    /// Each binary's size and modification time when it was last served.
    identities: HashMap<String, Option<(u64, SystemTime)>>,
    sources: Snapshot,
    topology: Snapshot,
    /// `target/<profile>/.reloads/<pid>`.
    folder: PathBuf,
    report: watch::Sender<BuildReport>,
    /// The copy each binary's instances now start from, if a reload made one.
    serving: HashMap<String, PathBuf>,
}

impl Reloader {
    fn run(&mut self, stopping: &watch::Receiver<bool>) {
        let mut changed_at: Option<Instant> = None;
        loop {
            std::thread::sleep(POLL);
            if *stopping.borrow() {
                let _ = std::fs::remove_dir_all(&self.folder);
                return;
            }
            if self.topology.refresh() {
                self.topology_changed();
            }
            if self.sources.refresh() {
                changed_at = Some(Instant::now());
            } else if changed_at.is_some_and(|at| at.elapsed() >= POLL) {
                changed_at = None;
                self.build();
                // What changed during the build is seen at the next poll, and built then.
                self.sources = Snapshot::of(watched_sources(&self.watched.binaries));
            }
        }
    }

    fn topology_changed(&self) {
        let changed = self.topology.changed.clone();
        println!(
            "Changed: {}. The topology is read at start: restart the emulator to apply it.",
            changed.join(", ")
        );
        self.report.send_modify(|report| {
            for file in changed {
                if !report.restart_to_apply.contains(&file) {
                    report.restart_to_apply.push(file);
                }
            }
        });
    }

    fn build(&mut self) {
        println!(
            "Reload: {} changed; building…",
            self.sources.changed.join(", ")
        );
        let started = SystemTime::now();
        let clock = Instant::now();
        self.report.send_modify(|report| {
            report.state = BuildState::Building;
            report.builds += 1;
            report.started_at = Some(Utc::now());
        });
        let outcome = run_cargo();
        let seconds = clock.elapsed().as_secs_f64();
        match outcome.and_then(|binaries| Ok((self.serve_new(&binaries)?, binaries))) {
            Ok((reloaded, binaries)) => {
                write_stamp(started, &binaries);
                if reloaded.is_empty() {
                    println!("Reload: built in {seconds:.1} s; no function's binary changed.");
                } else {
                    println!(
                        "Reload: serving the new build of {} (built in {seconds:.1} s).",
                        reloaded.join(", ")
                    );
                }
                self.report.send_modify(|report| {
                    report.state = BuildState::Succeeded;
                    report.seconds = Some(seconds);
                    report.reloaded = reloaded;
                    report.errors = None;
                });
            }
            Err(failure) => {
                println!(
                    "Reload: the build failed ({seconds:.1} s); the last good build keeps serving."
                );
                self.report.send_modify(|report| {
                    report.state = BuildState::Failed;
                    report.seconds = Some(seconds);
                    report.errors = Some(failure.to_string());
                });
            }
        }
    }

    /// Serves each binary of `binaries` that differs from the one served, from a copy of its own;
    /// returns their names.
    fn serve_new(&mut self, binaries: &HashMap<String, PathBuf>) -> anyhow::Result<Vec<String>> {
        let build = self.report.borrow().builds;
        let mut reloaded = Vec::new();
        for (name, path) in binaries {
            let now = identity(path);
            if self.identities.get(name) == Some(&now) {
                continue;
            }
            let Some(built_from) = self.watched.binaries.get(name) else {
                continue;
            };
            self.identities.insert(name.clone(), now);
            let servers: Vec<_> = (self.watched.served.iter())
                .filter(|served| served.built_from() == built_from)
                .collect();
            if servers.is_empty() {
                continue;
            }
            let copy = self.folder.join(build.to_string()).join(name);
            link_or_copy(path, &copy)?;
            for served in servers {
                served.serve(copy.clone());
            }
            // Running instances keep the file they started from open; new ones start the copy.
            if let Some(previous) = self.serving.insert(name.clone(), copy) {
                let _ = std::fs::remove_file(&previous);
                if let Some(folder) = previous.parent() {
                    let _ = std::fs::remove_dir(folder);
                }
            }
            reloaded.push(name.clone());
        }
        reloaded.sort();
        Ok(reloaded)
    }
}

/// Runs cargo's build of the functions, its diagnostics printed as they come; its binaries, or
/// an error holding what it printed.
fn run_cargo() -> anyhow::Result<HashMap<String, PathBuf>> {
    let mut child = cargo_command()
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| anyhow::anyhow!("could not run cargo: {e}"))?;
    let stderr = child.stderr.take().expect("piped");
    let printer = std::thread::spawn(move || {
        let mut kept = Vec::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("{line}");
            if kept.len() < KEPT_LINES {
                kept.push(line);
            }
        }
        kept
    });
    let mut messages = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        stdout.read_to_string(&mut messages)?;
    }
    let status = child.wait()?;
    let printed = printer.join().unwrap_or_default();
    if !status.success() {
        anyhow::bail!("{}", printed.join("\n"));
    }
    artifacts(&messages)
}

/// A file's size and modification time, which a new build changes.
fn identity(path: &Path) -> Option<(u64, SystemTime)> {
    let metadata = std::fs::metadata(path).ok()?;
    Some((metadata.len(), metadata.modified().ok()?))
}

/// Hard-links `from` at `to` (making its folder), or copies it where a link cannot be made.
fn link_or_copy(from: &Path, to: &Path) -> anyhow::Result<()> {
    if let Some(folder) = to.parent() {
        std::fs::create_dir_all(folder)?;
    }
    if std::fs::hard_link(from, to).is_err() {
        std::fs::copy(from, to)
            .map_err(|e| anyhow::anyhow!("could not copy {}: {e}", from.display()))?;
    }
    Ok(())
}

/// This emulator's folder of served builds, beside cargo's binaries; the folders of emulators
/// that no longer run are removed (Linux: a process is alive while `/proc/<pid>` is there).
fn reloads_folder(binaries: &HashMap<String, PathBuf>) -> anyhow::Result<PathBuf> {
    let target = binaries
        .values()
        .next()
        .and_then(|binary| binary.parent())
        .ok_or_else(|| anyhow::anyhow!("no function binary to watch"))?
        .join(".reloads");
    if cfg!(target_os = "linux")
        && let Ok(entries) = std::fs::read_dir(&target)
    {
        for entry in entries.flatten() {
            let name = entry.file_name();
            let alive = Path::new("/proc").join(&name).exists();
            if !alive {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    Ok(target.join(std::process::id().to_string()))
}

/// The workspace's files among those `binaries` are built from.
fn watched_sources(binaries: &HashMap<String, PathBuf>) -> Vec<PathBuf> {
    let workspace = workspace().canonicalize().unwrap_or_else(|_| workspace());
    inputs(binaries, &workspace)
        .unwrap_or_default()
        .into_iter()
        .filter(|path| path.starts_with(&workspace))
        .collect()
}

/// The files of `paths`, a folder's files listed recursively.
fn topology_files(paths: &[PathBuf]) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending: Vec<PathBuf> = paths.to_vec();
    while let Some(path) = pending.pop() {
        match std::fs::read_dir(&path) {
            Ok(entries) => pending.extend(entries.flatten().map(|entry| entry.path())),
            Err(_) => files.push(path),
        }
    }
    files
}

/// Files and their modification times when last looked at.
struct Snapshot {
    times: BTreeMap<PathBuf, Option<SystemTime>>,
    /// The files whose time differed at the last refresh, relative to the workspace.
    changed: Vec<String>,
}

impl Snapshot {
    fn of(files: Vec<PathBuf>) -> Self {
        Self {
            times: files.into_iter().map(|file| (file, None)).collect(),
            changed: Vec::new(),
        }
        .refreshed()
    }

    fn refreshed(mut self) -> Self {
        self.refresh();
        self.changed.clear();
        self
    }

    /// Looks at each file again; true if any changed (its time, or whether it exists).
    fn refresh(&mut self) -> bool {
        let workspace = workspace().canonicalize().unwrap_or_else(|_| workspace());
        let mut changed = Vec::new();
        for (file, time) in &mut self.times {
            let now = std::fs::metadata(file).and_then(|m| m.modified()).ok();
            if now != *time {
                *time = now;
                let shown = file.strip_prefix(&workspace).unwrap_or(file);
                changed.push(shown.display().to_string());
            }
        }
        let any = !changed.is_empty();
        if any {
            self.changed = changed;
        }
        any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_sees_a_file_written_and_a_file_removed() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let (a, b) = (dir.path().join("a.rs"), dir.path().join("b.rs"));
        std::fs::write(&a, "fn a() {}").expect("written");
        std::fs::write(&b, "fn b() {}").expect("written");
        let mut snapshot = Snapshot::of(vec![a.clone(), b.clone()]);
        assert!(!snapshot.refresh(), "nothing changed yet");
        let file = std::fs::File::options()
            .write(true)
            .open(&a)
            .expect("opens");
        file.set_modified(SystemTime::now() + Duration::from_secs(1))
            .expect("set");
        std::fs::remove_file(&b).expect("removed");
        assert!(snapshot.refresh());
        assert_eq!(snapshot.changed.len(), 2, "{:?}", snapshot.changed);
        assert!(!snapshot.refresh(), "seen once");
    }

    #[test]
    fn a_folder_of_the_topology_is_watched_file_by_file() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        std::fs::create_dir_all(dir.path().join("registrations")).expect("made");
        std::fs::write(dir.path().join("host.json"), "{}").expect("written");
        std::fs::write(dir.path().join("registrations/function.json"), "{}").expect("written");
        let mut files = topology_files(&[dir.path().to_owned()]);
        files.sort();
        assert_eq!(
            files,
            [
                dir.path().join("host.json"),
                dir.path().join("registrations/function.json")
            ]
        );
    }
}
