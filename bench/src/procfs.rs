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

/// CPU time (user + system, in clock ticks) of `pid` and every process below it: the live
/// descendants' own and their reaped children's, and the root's own and its reaped children's.
/// In process mode that is the emulator and its function instances; in-process, the emulator.
pub fn tree_cpu_ticks(pid: u32) -> anyhow::Result<u64> {
    let ticks = |fields: &[String]| -> u64 {
        // Fields 14 to 17: utime, stime, cutime, cstime (index n - 3).
        (14..=17)
            .filter_map(|n| fields.get(n - 3).and_then(|v| v.parse::<u64>().ok()))
            .sum()
    };
    let mut total = ticks(&stat_fields(pid)?);
    for descendant in descendants(pid) {
        if let Ok(fields) = stat_fields(descendant) {
            total += ticks(&fields);
        }
    }
    Ok(total)
}

/// CPU time (user + system, in clock ticks) of `pid` and each live process below it, summed by
/// command name (`emulator`, `payment`, …): where the tree's time went.
pub fn tree_cpu_by_command(pid: u32) -> Vec<(String, u64)> {
    let mut by_command: Vec<(String, u64)> = Vec::new();
    for process in std::iter::once(pid).chain(descendants(pid)) {
        let Ok(fields) = stat_fields(process) else {
            continue;
        };
        let ticks: u64 = (14..=15)
            .filter_map(|n| fields.get(n - 3).and_then(|v| v.parse::<u64>().ok()))
            .sum();
        let command = std::fs::read_to_string(format!("/proc/{process}/comm"))
            .map(|name| name.trim().to_owned())
            .unwrap_or_default();
        match by_command.iter_mut().find(|(name, _)| *name == command) {
            Some((_, total)) => *total += ticks,
            None => by_command.push((command, ticks)),
        }
    }
    by_command.sort_by_key(|(_, ticks)| std::cmp::Reverse(*ticks));
    by_command
}

/// The processes below `pid` (children, their children, …), from `/proc/*/stat`'s parent ids.
pub fn descendants(pid: u32) -> Vec<u32> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(child) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        // Field 4, the parent id, is at index 1.
        if let Some(parent) = stat_fields(child)
            .ok()
            .and_then(|fields| fields.get(1).and_then(|v| v.parse().ok()))
        {
            parents.push((child, parent));
        }
    }
    let mut found = vec![pid];
    let mut index = 0;
    while index < found.len() {
        let parent = found[index];
        found.extend(
            parents
                .iter()
                .filter(|(_, p)| *p == parent)
                .map(|(c, _)| *c),
        );
        index += 1;
    }
    found.remove(0);
    found
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
