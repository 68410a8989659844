//! `cargo run --release -p bench`: how fast, how heavy and how reliable the emulator is under load,
//! in each of its function modes.
//!
//! The emulator runs the whole registration system on one machine, and its speed decides how long
//! every end-to-end test, demo and local session takes. This bench puts numbers on it, so that a
//! change to the emulator or to the functions can be judged by measurement rather than by feel:
//! it builds the emulator in release mode (`cargo build --release -p emulator`, once), and for
//! each function mode in turn, `in-process` (the functions' libraries in the emulator's process)
//! then `process` (their binaries, an instance a process, as `cargo run -p emulator` runs them),
//! starts it on a free port with a fresh SQLite database in a temporary directory of its own,
//! measures, and stops it before the next mode starts:
//!
//! - the time from start to ready (its health check answers) and its idle memory;
//! - the latency of `POST /api/registrations` while N registrations (10000) are posted by C
//!   concurrent clients (16), each with its own `Idempotency-Key` and email;
//! - the end-to-end rate: registrations whose order is stored, email captured and newsletter
//!   member added, as `GET /_emulator/api/stats` counts them (every 250 ms while posting, every
//!   5 ms after the last answer), overall and for the first and the last 1000 (a rate that drops
//!   over the run points at growing state);
//! - the CPU time per registration of the whole process tree (the emulator, and in process mode
//!   its function instances: `/proc/<pid>/stat` of each), the memory after the run (the
//!   emulator's, and its instances' together: resident, and proportional, which counts the
//!   binaries' pages that instances of one function share once), and how long it takes to stop cleanly on SIGTERM;
//! - in process mode, where the instances' cold starts fall: the emulator's child processes
//!   started during the first 1000 completions, during the last 1000 (the two overlap in a run of
//!   fewer than 2000) and in all, each placed by its start time in `/proc`. The children are
//!   looked for at each stats poll, so an instance that starts and exits between two polls is
//!   missed.
//!
//! `--functions process` or `--functions in-process` measures one mode only (repeated, the modes
//! named, in that order); the default is both.
//!
//! It prints one markdown table, a column per mode, and exits non-zero when a run fails (the
//! emulator does not start or dies), a registration accepted with 201 never completes (within
//! `--timeout-secs` of the last POST) or the emulator does not stop cleanly. Linux only (`/proc`).
//!
//! With `--database-url`, the modes share that database, one after the other (the bench creates
//! no database): each run's counts start from the rows it finds, so its figures are its own, but
//! a later run starts with the earlier runs' rows, and its column says so.
//!
//! ```text
//! cargo run --release -p bench
//! cargo run --release -p bench -- --registrations 10000 --concurrency 16
//! cargo run --release -p bench -- --functions process
//! cargo run --release -p bench -- --database-url postgres://localhost/registrations
//! cargo run --release -p bench -- --emulator target/release/emulator
//! ```
//!
//! The emulator is started with `RUST_LOG=warn`, without the caller's `PAYPAL_*`, `SENDGRID_*` or
//! `MAILCHIMP_*` settings (the bench measures the local providers, never the real services), and
//! writes its output to `emulator.log` in its run's temporary directory, whose path is printed.

mod emulator;
mod load;
mod procfs;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, ensure};
use clap::Parser;
use clap::builder::RangedU64ValueParser;
use tokio::sync::watch;

use crate::emulator::{Emulator, shell_quote};
use crate::load::{Posted, Progress, Sample};
use crate::procfs::Memory;

/// The size of the first and last stretches of completions whose rate, CPU cost and instance
/// starts are shown.
const STRETCH: u64 = 1000;

/// The emulator's function modes (its `--functions`), in the order they run by default.
const MODES: [&str; 2] = ["in-process", "process"];

#[derive(Debug, Parser)]
#[command(
    about = "Measure the emulator under load in each function mode and print one markdown table."
)]
struct Args {
    /// Registrations to post in each mode.
    #[arg(long, default_value_t = 10_000, value_parser = RangedU64ValueParser::<usize>::new().range(1..))]
    registrations: usize,
    /// Clients posting them at the same time.
    #[arg(long, default_value_t = 16, value_parser = RangedU64ValueParser::<usize>::new().range(1..))]
    concurrency: usize,
    /// Run this emulator binary instead of building one with `cargo build --release -p emulator`.
    #[arg(long, value_name = "PATH")]
    emulator: Option<PathBuf>,
    /// The emulator's DATABASE_URL, shared by the modes' runs one after the other (default: a
    /// fresh SQLite file in each run's temporary directory).
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
    /// A mode to measure: `in-process` (the functions' libraries, in the emulator's process) or
    /// `process` (their binaries, the emulator's default). Repeat it for both, in the order
    /// given; without it, both run, in-process first.
    #[arg(long = "functions", value_name = "MODE", value_parser = MODES)]
    functions: Vec<String>,
    /// How long to wait, after the last POST, for every accepted registration to complete.
    #[arg(long, default_value_t = 120, value_name = "SECONDS")]
    timeout_secs: u64,
}

impl Args {
    /// The modes to measure, in turn, each once.
    fn modes(&self) -> Vec<&'static str> {
        let mut modes: Vec<&'static str> = Vec::new();
        for named in &self.functions {
            if let Some(mode) = MODES.iter().find(|mode| **mode == named.as_str())
                && !modes.contains(mode)
            {
                modes.push(mode);
            }
        }
        if modes.is_empty() {
            modes.extend(MODES);
        }
        modes
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<ExitCode> {
    let args = Args::parse();
    let binary = match &args.emulator {
        Some(binary) => binary.clone(),
        None => emulator::build(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .parent()
                .context("the bench crate is not inside the workspace")?,
        )?,
    };
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(args.concurrency)
        .build()
        .context("could not build the HTTP client")?;

    let mut runs: Vec<ModeRun> = Vec::new();
    for functions in args.modes() {
        eprintln!(
            "bench: functions {functions}: {} registrations from {} clients…",
            args.registrations, args.concurrency
        );
        // A given database is shared: the runs before this one left their rows in it.
        let earlier = match &args.database_url {
            Some(_) => runs.iter().map(|run| run.functions).collect(),
            None => Vec::new(),
        };
        runs.push(run_mode(&args, &binary, &client, functions, earlier).await);
    }

    let report = Report {
        args: &args,
        ticks_per_second: procfs::clock_ticks_per_second(),
        runs: &runs,
    };
    println!("{}", report.table());
    println!("Command: `{}`", bench_command());
    for run in &runs {
        if let Some((command, log)) = &run.emulator {
            println!("Emulator, {}: `{command}`", run.functions);
            println!("Emulator log, {}: {}", run.functions, log.display());
        }
    }

    let mut failed = false;
    for run in &runs {
        let functions = run.functions;
        let measured = match &run.outcome {
            Ok(measured) => measured,
            Err(e) => {
                eprintln!("functions {functions}: the run failed: {e:#}");
                failed = true;
                continue;
            }
        };
        let lost = measured.run.lost();
        if lost > 0 {
            eprintln!(
                "functions {functions}: {lost} registrations accepted with 201 never completed; \
                 the last stats: {}",
                measured.run.progress.last_stats
            );
        }
        if let Err(e) = &measured.stop {
            eprintln!("functions {functions}: the emulator did not stop cleanly: {e:#}");
        }
        if lost > 0 || measured.stop.is_err() {
            failed = true;
        } else if args.database_url.is_none() {
            remove_database(&run.dir);
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// One mode's run: where it ran, and what was measured or why it failed.
struct ModeRun {
    /// The emulator's `--functions`.
    functions: &'static str,
    database_url: String,
    /// The modes whose runs left their rows in the (given, shared) database before this one.
    earlier: Vec<&'static str>,
    /// Its temporary directory: the emulator's log, and the SQLite database unless one was given.
    dir: PathBuf,
    /// The emulator's command line and log, once it was started.
    emulator: Option<(String, PathBuf)>,
    outcome: anyhow::Result<Measured>,
}

/// A run that went to its end: the measures, and how the emulator stopped.
struct Measured {
    run: Run,
    stop: anyhow::Result<Duration>,
}

/// Starts the emulator in `functions` mode on its own temporary directory (and SQLite file, unless
/// a database was given), measures it and stops it; on failure prints the end of its log.
async fn run_mode(
    args: &Args,
    binary: &Path,
    client: &reqwest::Client,
    functions: &'static str,
    earlier: Vec<&'static str>,
) -> ModeRun {
    let dir = std::env::temp_dir().join(format!(
        "emulator-bench-{functions}-{}",
        uuid::Uuid::new_v4()
    ));
    let database_url = args
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}?mode=rwc", dir.join("bench.db").display()));
    let started = std::fs::create_dir_all(&dir)
        .with_context(|| format!("could not create {}", dir.display()))
        .and_then(|()| Emulator::spawn(binary, functions, &database_url, &dir));
    let (emulator, outcome) = match started {
        Err(e) => (None, Err(e)),
        Ok(mut emulator) => {
            let outcome = match measure(args, client, &mut emulator).await {
                Ok(run) => Ok(Measured {
                    run,
                    stop: emulator.stop().await,
                }),
                Err(e) => {
                    emulator.print_log_tail();
                    Err(e)
                }
            };
            // Dropped here: killed if it still runs, before the next mode starts.
            (
                Some((emulator.command.clone(), emulator.log.clone())),
                outcome,
            )
        }
    };
    ModeRun {
        functions,
        database_url,
        earlier,
        dir,
        emulator,
        outcome,
    }
}

/// Everything measured between the start of the emulator and its stop.
struct Run {
    ready: Duration,
    idle: Memory,
    idle_after_tickets: Memory,
    posted: Posted,
    progress: Progress,
    after: Memory,
    /// The function instances (the emulator's descendants) after the run: how many, and their
    /// memory together.
    instances: Instances,
    /// The CPU time of the tree's processes since they started, by command name, after the run.
    cpu_by_command: Vec<(String, u64)>,
}

/// The function instances after a run.
struct Instances {
    count: usize,
    /// Their resident memory added up: each counts the pages of its binary that it shares with
    /// the other instances of the same function.
    rss_kib: u64,
    /// Their proportional memory added up (`Pss` in `/proc/<pid>/smaps_rollup`): a page shared by
    /// n processes counts 1/n in each, so this is the memory they hold together.
    pss_kib: u64,
}

impl Run {
    fn last(&self) -> &Sample {
        self.progress.polls.last().unwrap_or(&self.progress.start)
    }

    /// The moment `count` registrations were complete, interpolated between the polls around it
    /// (a poll every 100 ms would otherwise blur a stretch of 1000 registrations).
    fn reached(&self, count: u64) -> Option<Moment> {
        let start = &self.progress.start;
        let moment = |sample: &Sample| Moment {
            seconds: sample.at.duration_since(start.at).as_secs_f64(),
            cpu_ticks: sample.cpu_ticks as f64,
        };
        let mut before = start;
        if before.completed >= count {
            return Some(moment(before));
        }
        for after in &self.progress.polls {
            if after.completed >= count {
                // The counts only grow, so `before.completed < count <= after.completed`.
                let share =
                    (count - before.completed) as f64 / (after.completed - before.completed) as f64;
                let (from, to) = (moment(before), moment(after));
                return Some(Moment {
                    seconds: from.seconds + share * (to.seconds - from.seconds),
                    cpu_ticks: from.cpu_ticks + share * (to.cpu_ticks - from.cpu_ticks),
                });
            }
            before = after;
        }
        None
    }

    /// Registrations accepted with 201 that never completed.
    fn lost(&self) -> u64 {
        self.posted.accepted.saturating_sub(self.last().completed)
    }
}

async fn measure(
    args: &Args,
    client: &reqwest::Client,
    emulator: &mut Emulator,
) -> anyhow::Result<Run> {
    let ready = emulator.wait_ready(client).await?;
    let idle = procfs::memory(emulator.pid)?;
    let tickets = client
        .get(format!("{}/api/tickets", emulator.url))
        .send()
        .await
        .context("GET /api/tickets failed")?;
    ensure!(
        tickets.status() == reqwest::StatusCode::OK,
        "GET /api/tickets answered {}",
        tickets.status()
    );
    tickets
        .bytes()
        .await
        .context("GET /api/tickets: no answer")?;
    let idle_after_tickets = procfs::memory(emulator.pid)?;

    let start = load::baseline(client, &emulator.url, emulator.pid).await?;
    let (finished, finished_rx) = watch::channel(None);
    let (posted, progress) = tokio::try_join!(
        load::post_registrations(
            client,
            &emulator.url,
            args.registrations,
            args.concurrency,
            finished
        ),
        load::watch_progress(
            client,
            &emulator.url,
            emulator.pid,
            start,
            finished_rx,
            Duration::from_secs(args.timeout_secs)
        ),
    )?;
    if let Some(status) = emulator.exited()? {
        anyhow::bail!("the emulator died during the run ({status})");
    }
    let after = procfs::memory(emulator.pid)?;
    let descendants = procfs::descendants(emulator.pid);
    let instances = Instances {
        count: descendants.len(),
        rss_kib: descendants
            .iter()
            .filter_map(|&pid| procfs::memory(pid).ok())
            .map(|memory| memory.rss_kib)
            .sum(),
        pss_kib: descendants
            .iter()
            .filter_map(|&pid| procfs::proportional_kib(pid).ok())
            .sum(),
    };
    Ok(Run {
        cpu_by_command: procfs::tree_cpu_by_command(emulator.pid),
        instances,
        ready,
        idle,
        idle_after_tickets,
        posted,
        progress,
        after,
    })
}

/// A moment of the load: seconds since its start, and the emulator's CPU time then.
#[derive(Debug, Clone, Copy)]
struct Moment {
    seconds: f64,
    cpu_ticks: f64,
}

/// `count` completions between two moments: their rate and the emulator's CPU time for each.
struct Stretch {
    per_second: f64,
    cpu_ms: f64,
}

impl Stretch {
    fn between(from: Moment, to: Moment, count: u64, ms_per_tick: f64) -> Option<Self> {
        let seconds = to.seconds - from.seconds;
        (count > 0 && seconds > 0.0).then(|| Self {
            per_second: count as f64 / seconds,
            cpu_ms: (to.cpu_ticks - from.cpu_ticks) * ms_per_tick / count as f64,
        })
    }
}

/// How many rows the table has.
const ROWS: usize = 12;

/// The table's first column: what each row measures.
fn measures() -> [String; ROWS] {
    [
        "emulator".into(),
        "start to ready".into(),
        "idle memory (RSS)".into(),
        "POST /api/registrations p50 / p99".into(),
        "end to end".into(),
        "CPU per registration (the process tree)".into(),
        "memory after the run (RSS / peak)".into(),
        "CPU by process since its start (share of the tree)".into(),
        "function instances after the run (RSS / PSS in all)".into(),
        format!("instance starts (first {STRETCH} / last {STRETCH} / in all)"),
        "errors / lost".into(),
        "clean stop".into(),
    ]
}

struct Report<'a> {
    args: &'a Args,
    ticks_per_second: Option<u64>,
    runs: &'a [ModeRun],
}

impl Report<'_> {
    /// `| measure | <mode> | … |`, a column per run.
    fn table(&self) -> String {
        let columns: Vec<[String; ROWS]> = self.runs.iter().map(|run| self.column(run)).collect();
        let mut table = String::from("| measure |");
        for run in self.runs {
            table += &format!(" {} |", run.functions);
        }
        table += "\n|---|";
        table += &"---|".repeat(self.runs.len());
        table += "\n";
        for (row, measure) in measures().into_iter().enumerate() {
            table += &format!("| {measure} |");
            for column in &columns {
                table += &format!(" {} |", cell(&column[row]));
            }
            table += "\n";
        }
        table
    }

    /// One run's cells, in the order of [`measures`].
    fn column(&self, mode_run: &ModeRun) -> [String; ROWS] {
        let args = self.args;
        let emulator = match &args.emulator {
            Some(binary) => format!("`{}`", binary.display()),
            None => "release".into(),
        };
        let mut database = database_kind(&mode_run.database_url);
        if !mode_run.earlier.is_empty() {
            database += &format!(
                " holding the rows of the {} run before",
                mode_run.earlier.join(" and ")
            );
        }
        let description = format!(
            "{emulator}, {database}, {} clients, {} registrations",
            args.concurrency, args.registrations
        );
        let Measured { run, stop } = match &mode_run.outcome {
            Ok(measured) => measured,
            Err(e) => {
                let mut cells: [String; ROWS] = std::array::from_fn(|_| "–".to_owned());
                cells[0] = description;
                cells[ROWS - 2] = format!("run failed: {e:#}");
                return cells;
            }
        };

        let ms_per_tick = 1000.0 / self.ticks_per_second.unwrap_or(100) as f64;
        let accepted = run.posted.accepted;
        let start = run.reached(0);
        let end = run.reached(accepted);
        let stretch = |from: Option<Moment>, to: Option<Moment>, count| {
            Stretch::between(from?, to?, count, ms_per_tick)
        };
        let overall = stretch(start, end, accepted);
        // The first and last stretches, when the run is long enough for them not to overlap.
        let first = stretch(start, run.reached(STRETCH), STRETCH);
        let last = stretch(run.reached(accepted.saturating_sub(STRETCH)), end, STRETCH);
        let stretches = (accepted >= 2 * STRETCH).then_some((first, last));
        let detail = |value: fn(&Stretch) -> String| match &stretches {
            Some((first, last)) => format!(
                " (first {STRETCH}: {}, last {STRETCH}: {})",
                first.as_ref().map_or("n/a".into(), value),
                last.as_ref().map_or("n/a".into(), value)
            ),
            None => String::new(),
        };

        let mut end_to_end = match &overall {
            Some(s) => format!("{:.0} registrations/s", s.per_second),
            None => "n/a".into(),
        };
        end_to_end += &detail(|s| format!("{:.0}/s", s.per_second));
        if end.is_none() {
            end_to_end += &format!(
                "; timed out with {} of {accepted} complete {} s after the last POST",
                run.last().completed,
                args.timeout_secs
            );
        }
        let mut cpu = match &overall {
            Some(s) => format!("{:.2} ms", s.cpu_ms),
            None => "n/a".into(),
        };
        cpu += &detail(|s| format!("{:.2} ms", s.cpu_ms));
        if self.ticks_per_second.is_none() {
            cpu += " (getconf CLK_TCK failed: assumed 100 ticks/s)";
        }
        let latency = |percent| {
            percentile(&run.posted.latencies, percent).map_or("n/a".into(), |d| {
                format!("{:.1} ms", d.as_secs_f64() * 1000.0)
            })
        };
        [
            description,
            format!("{} ms", run.ready.as_millis()),
            format!(
                "{} ({} after GET /api/tickets)",
                mib(run.idle.rss_kib),
                mib(run.idle_after_tickets.rss_kib)
            ),
            format!("{} / {}", latency(50), latency(99)),
            end_to_end,
            cpu,
            format!("{} / {}", mib(run.after.rss_kib), mib(run.after.peak_kib)),
            {
                let total: u64 = run.cpu_by_command.iter().map(|(_, t)| t).sum();
                run.cpu_by_command
                    .iter()
                    .map(|(name, ticks)| {
                        format!(
                            "{name} {:.0} %",
                            *ticks as f64 * 100.0 / total.max(1) as f64
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            },
            format!(
                "{} ({} / {})",
                run.instances.count,
                mib(run.instances.rss_kib),
                mib(run.instances.pss_kib)
            ),
            if mode_run.functions == "process" {
                self.instance_starts(run)
            } else {
                "–".into()
            },
            format!("{} / {}", run.posted.errors, run.lost()),
            match stop {
                Ok(took) => format!("{} ms", took.as_millis()),
                Err(e) => format!("failed: {e:#}"),
            },
        ]
    }

    /// The emulator's children that started during the first [`STRETCH`] completions, during the
    /// last (when the run has that many) and during the whole load, as `first / last / in all`:
    /// each placed by its start time in `/proc`, to the clock tick, against the moments the
    /// polls' counts were reached. A child that started and exited between two polls is missed.
    fn instance_starts(&self, run: &Run) -> String {
        let ticks_per_second = self.ticks_per_second.unwrap_or(100) as f64;
        let progress = &run.progress;
        // Seconds since the start of the load.
        let started: Vec<f64> = progress
            .children
            .iter()
            .map(|child| child.start_ticks as f64 / ticks_per_second - progress.start_uptime)
            .collect();
        let accepted = run.posted.accepted;
        let count = |from: Option<Moment>, to: Option<Moment>| match (from, to) {
            (Some(from), Some(to)) if accepted >= STRETCH => started
                .iter()
                // Start times and the boot clock are both in hundredths of a second or so: a
                // child that started in the tick of a stretch's edge counts in it.
                .filter(|&&at| at >= from.seconds - 0.01 && at <= to.seconds + 0.01)
                .count()
                .to_string(),
            _ => "n/a".into(),
        };
        let start = Some(Moment {
            seconds: f64::NEG_INFINITY,
            cpu_ticks: 0.0,
        });
        let first = count(start, run.reached(STRETCH));
        let end = run.reached(accepted).map(|_| Moment {
            seconds: f64::INFINITY,
            cpu_ticks: 0.0,
        });
        let last = count(run.reached(accepted.saturating_sub(STRETCH)), end);
        format!("{first} / {last} / {}", started.len())
    }
}

/// `value` as one markdown table cell.
fn cell(value: &str) -> String {
    value.replace('|', "\\|").replace('\n', " ")
}

/// The nearest-rank percentile of sorted `values`.
fn percentile(values: &[Duration], percent: usize) -> Option<Duration> {
    let rank = (values.len() * percent).div_ceil(100).max(1);
    values.get(rank - 1).copied()
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn database_kind(url: &str) -> String {
    match url.split_once(':').map(|(scheme, _)| scheme) {
        Some("sqlite") => "SQLite (WAL)".into(),
        Some("postgres" | "postgresql") => "PostgreSQL".into(),
        Some(scheme) => format!("database {scheme}"),
        None => "database".into(),
    }
}

/// This run as a `cargo run` line.
fn bench_command() -> String {
    let args: Vec<String> = std::env::args().skip(1).map(|a| shell_quote(&a)).collect();
    if args.is_empty() {
        "cargo run --release -p bench".into()
    } else {
        format!("cargo run --release -p bench -- {}", args.join(" "))
    }
}

/// Removes the SQLite database (and its WAL files) of a run that went well; the log stays.
fn remove_database(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with("bench.db") {
            // Best effort: the directory is a temporary one.
            let _ = std::fs::remove_file(entry.path());
        }
    }
}
