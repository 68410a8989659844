//! What Linux's `/proc` says about the emulator process: its memory and the CPU time it used.

use std::process::Command;

use anyhow::{Context, bail};

/// Resident memory, from `/proc/<pid>/status`, in KiB.
#[derive(Debug, Clone, Copy)]
pub struct Memory {
    /// `VmRSS`: resident now.
    pub rss_kib: u64,
    /// `VmHWM`: the most it was ever resident.
    pub peak_kib: u64,
}

pub fn memory(pid: u32) -> anyhow::Result<Memory> {
    let path = format!("/proc/{pid}/status");
    let status =
        std::fs::read_to_string(&path).with_context(|| format!("could not read {path}"))?;
    let field = |name: &str| -> anyhow::Result<u64> {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
            .and_then(|value| value.trim().strip_suffix("kB")?.trim().parse().ok())
            .with_context(|| format!("{path} has no {name} in kB"))
    };
    Ok(Memory {
        rss_kib: field("VmRSS")?,
        peak_kib: field("VmHWM")?,
    })
}

/// User plus system CPU time (`utime` + `stime`, fields 14 and 15 of `/proc/<pid>/stat`), in
/// clock ticks.
pub fn cpu_ticks(pid: u32) -> anyhow::Result<u64> {
    let fields = stat_fields(pid)?;
    // `fields` starts at field 3 (the state), so field n is at index n - 3.
    let tick = |n: usize| -> anyhow::Result<u64> {
        fields
            .get(n - 3)
            .and_then(|value| value.parse().ok())
            .with_context(|| format!("/proc/{pid}/stat has no number in field {n}"))
    };
    Ok(tick(14)? + tick(15)?)
}

/// Whether the process still runs (it exists and is not a zombie waiting to be reaped).
pub fn running(pid: u32) -> bool {
    stat_fields(pid)
        .is_ok_and(|fields| !matches!(fields.first().map(String::as_str), Some("Z" | "X")))
}

/// The fields of `/proc/<pid>/stat` after the command name, which is in parentheses and may
/// itself hold spaces and parentheses.
fn stat_fields(pid: u32) -> anyhow::Result<Vec<String>> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).with_context(|| format!("could not read {path}"))?;
    let Some((_, rest)) = stat.rsplit_once(')') else {
        bail!("{path} does not hold a command name in parentheses: {stat:?}");
    };
    Ok(rest.split_whitespace().map(str::to_owned).collect())
}

/// Clock ticks per second, from `getconf CLK_TCK`; `None` when that could not be asked.
pub fn clock_ticks_per_second() -> Option<u64> {
    let output = Command::new("getconf").arg("CLK_TCK").output().ok()?;
    if !output.status.success() {
        return None;
    }
    String::from_utf8(output.stdout)
        .ok()?
        .trim()
        .parse()
        .ok()
        .filter(|&ticks| ticks > 0)
}
