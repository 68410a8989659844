//! What this test process logs, and what it prints. The emulator and the functions run in the
//! test's process, so their `tracing` output is captured here: the card-data scan reads all of
//! it, and a test can look for the line that shows something happened. A warning about the tests'
//! own cleanup, which is not a failure, is printed where it is seen instead.

use std::io::Write;
use std::sync::{Mutex, OnceLock, PoisonError};

/// Every log line of this test process, for the card-data scan.
static LOGS: Mutex<Vec<u8>> = Mutex::new(Vec::new());

/// Whether one line of the captured logs contains every one of `needles`.
pub fn logs_contain(needles: &[&str]) -> bool {
    !log_lines(needles).is_empty()
}

/// The lines of the captured logs that contain every one of `needles`.
pub fn log_lines(needles: &[&str]) -> Vec<String> {
    captured()
        .lines()
        .filter(|line| needles.iter().all(|needle| line.contains(needle)))
        .map(str::to_owned)
        .collect()
}

/// Everything logged so far, as text.
pub(crate) fn captured() -> String {
    let logs = LOGS.lock().unwrap_or_else(PoisonError::into_inner);
    String::from_utf8_lossy(&logs).into_owned()
}

struct CapturedLogs;

impl Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOGS.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Sends this process's logs to the capture, from the first call on.
pub(crate) fn capture_logs() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                "debug,sqlx=info,hyper=info,hyper_util=info,reqwest=info",
            ))
            .with_writer(|| CapturedLogs)
            .with_ansi(false)
            .init();
    });
}

/// Prints a warning where it is seen: straight to stderr, which the test harness does not capture
/// (it shows what `eprintln!` prints only for failing tests).
pub(crate) fn warn(message: impl std::fmt::Display) {
    let _ = writeln!(std::io::stderr(), "warning: {message}");
}
