//! The emulator binary runs its async runtime's threads at a lower priority than its SQLite
//! connections' threads (`--runtime-nice`, Linux only): every write waits for the one SQLite
//! writer, and on a 2-core machine under load it otherwise waited for a core behind the runtime's
//! workers (docs/performance-log.md has the figures). Read from `/proc`, as `top -H` shows
//! it.
#![cfg(target_os = "linux")]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

/// A thread's (name, nice value) from its `stat` line: `pid (comm) state …`, nice being the 19th
/// field, the 17th after the name.
fn name_and_nice(stat: &str) -> (String, i64) {
    let (name, rest) = stat
        .split_once(" (")
        .and_then(|(_, rest)| rest.rsplit_once(") "))
        .expect("a stat line");
    let nice = rest
        .split(' ')
        .nth(16)
        .expect("nice")
        .parse()
        .expect("a number");
    (name.to_owned(), nice)
}

/// Each thread of `pid` as (name, nice value), from `/proc/<pid>/task/*/stat`.
fn threads(pid: u32) -> Vec<(String, i64)> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("the process's threads");
    tasks
        .map(|task| {
            let path = task.expect("a thread").path().join("stat");
            name_and_nice(&std::fs::read_to_string(path).expect("the thread's stat"))
        })
        .collect()
}

/// Starts the binary on a fresh SQLite database with `args`, waits until it says it is ready,
/// and gives its threads.
fn threads_of_a_ready_emulator(args: &[&str]) -> Vec<(String, i64)> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut child = Command::new(env!("CARGO_BIN_EXE_emulator"))
        .args(["--port", "0", "--functions", "in-process"])
        .args(args)
        .env(
            "DATABASE_URL",
            format!("sqlite://{}/registrations.db", dir.path().display()),
        )
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .expect("the emulator binary starts");
    let stdout = BufReader::new(child.stdout.take().expect("its output"));
    let ready = stdout
        .lines()
        .map_while(Result::ok)
        .any(|line| line.contains("Registration emulator ready"));
    let threads = threads(child.id());
    let _ = child.kill();
    let _ = child.wait();
    assert!(ready, "the emulator never said it was ready");
    threads
}

fn nice_of(threads: &[(String, i64)], prefix: &str) -> Vec<i64> {
    let nice: Vec<i64> = threads
        .iter()
        .filter(|(name, _)| name.starts_with(prefix))
        .map(|(_, nice)| *nice)
        .collect();
    assert!(!nice.is_empty(), "no {prefix}* thread in {threads:?}");
    nice
}

#[test]
fn the_runtime_threads_yield_to_the_sqlite_threads() {
    // The emulator starts at the priority of the process that starts it: this test's.
    let own = name_and_nice(&std::fs::read_to_string("/proc/self/stat").expect("stat")).1;
    let threads = threads_of_a_ready_emulator(&[]);
    // sqlx names each SQLite connection's thread `sqlx-sqlite-worker-N` (Linux keeps 15 bytes).
    assert!(
        nice_of(&threads, "sqlx-sqlite-wor")
            .iter()
            .all(|&n| n == own),
        "the SQLite threads keep the emulator's priority: {threads:?}"
    );
    assert!(
        nice_of(&threads, "tokio-rt-worker")
            .iter()
            .all(|&n| n == (own + 10).min(19)),
        "the runtime's workers run 10 lower: {threads:?}"
    );

    let alike = threads_of_a_ready_emulator(&["--runtime-nice", "0"]);
    assert!(
        alike.iter().all(|&(_, n)| n == own),
        "--runtime-nice 0 runs every thread alike: {alike:?}"
    );
}
