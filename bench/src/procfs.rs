//! What Linux's `/proc` says about the emulator process and the processes it started: their
//! memory, the CPU time they used and when they started.

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

/// A process's proportional set size, in KiB (`Pss` in `/proc/<pid>/smaps_rollup`): its private
/// pages, and each page it shares with n processes counted 1/n.
pub fn proportional_kib(pid: u32) -> anyhow::Result<u64> {
    let path = format!("/proc/{pid}/smaps_rollup");
    let rollup =
        std::fs::read_to_string(&path).with_context(|| format!("could not read {path}"))?;
    rollup
        .lines()
        .find_map(|line| line.strip_prefix("Pss:"))
        .and_then(|value| value.trim().strip_suffix("kB")?.trim().parse().ok())
        .with_context(|| format!("{path} has no Pss in kB"))
}

/// The process tree below one process at one moment, from one walk of `/proc`.
pub struct Tree {
    /// CPU time (user + system, in clock ticks) of the root and every process below it: the live
    /// descendants' own and their reaped children's, and the root's own and its reaped
    /// children's. In process mode that is the emulator and its function instances; in-process,
    /// the emulator.
    pub cpu_ticks: u64,
    /// The root's live children (in process mode, the emulator's function instances).
    pub children: Vec<Started>,
}

/// A process and when it started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Started {
    /// When it started, in clock ticks since the boot (`/proc/<pid>/stat`'s `starttime`); with
    /// the id, it names the process even if the id is used again.
    pub start_ticks: u64,
    pub pid: u32,
}

/// What `/proc/<pid>/stat` says of one process.
struct Process {
    pid: u32,
    parent: u32,
    /// utime + stime + cutime + cstime.
    cpu_ticks: u64,
    start_ticks: u64,
}

/// The tree below `pid` now; an error when `pid` itself cannot be read (it has exited and been
/// reaped).
pub fn tree(pid: u32) -> anyhow::Result<Tree> {
    let processes = processes();
    let cpu_ticks = match processes.iter().find(|p| p.pid == pid) {
        Some(root) => root.cpu_ticks,
        // Gone between the walk and now, or never there: say why.
        None => {
            process(pid, stat_fields(pid)?)
                .with_context(|| format!("/proc/{pid}/stat has too few fields"))?
                .cpu_ticks
        }
    };
    let below = below(&processes, pid);
    Ok(Tree {
        cpu_ticks: cpu_ticks
            + processes
                .iter()
                .filter(|p| below.contains(&p.pid))
                .map(|p| p.cpu_ticks)
                .sum::<u64>(),
        children: processes
            .iter()
            .filter(|p| p.parent == pid)
            .map(|p| Started {
                start_ticks: p.start_ticks,
                pid: p.pid,
            })
            .collect(),
    })
}

/// Seconds since the boot, from `/proc/uptime` (in hundredths): the clock of
/// [`Started::start_ticks`].
pub fn uptime_seconds() -> anyhow::Result<f64> {
    let uptime = std::fs::read_to_string("/proc/uptime").context("could not read /proc/uptime")?;
    uptime
        .split_whitespace()
        .next()
        .and_then(|seconds| seconds.parse().ok())
        .with_context(|| format!("/proc/uptime does not start with seconds: {uptime:?}"))
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
    below(&processes(), pid)
}

/// The processes of `processes` below `pid`.
fn below(processes: &[Process], pid: u32) -> Vec<u32> {
    let mut found = vec![pid];
    let mut index = 0;
    while index < found.len() {
        let parent = found[index];
        found.extend(
            processes
                .iter()
                .filter(|p| p.parent == parent)
                .map(|p| p.pid),
        );
        index += 1;
    }
    found.remove(0);
    found
}

/// Every process `/proc` lists now (those that exit during the walk are left out).
fn processes() -> Vec<Process> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let pid = entry.file_name().to_str()?.parse::<u32>().ok()?;
            process(pid, stat_fields(pid).ok()?)
        })
        .collect()
}

/// `pid`'s fields of `/proc/<pid>/stat` (as [`stat_fields`] returns them), read.
fn process(pid: u32, fields: Vec<String>) -> Option<Process> {
    // Field n of stat(5) is at index n - 3: the parent (4), utime, stime, cutime and cstime (14
    // to 17), starttime (22).
    let field = |n: usize| fields.get(n - 3)?.parse::<u64>().ok();
    Some(Process {
        pid,
        parent: u32::try_from(field(4)?).ok()?,
        cpu_ticks: (14..=17).filter_map(field).sum(),
        start_ticks: field(22)?,
    })
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
