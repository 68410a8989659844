//! The load: registrations posted by concurrent clients, and the emulator's progress through them
//! as `GET /_emulator/api/stats` reports it.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::task::JoinSet;
use uuid::Uuid;

use crate::procfs::{self, Started};

/// How often the progress is asked while registrations are posted.
const POLL_EVERY: Duration = Duration::from_millis(250);
/// How often it is asked once the last answer has arrived, so that the moment the last
/// registration completed is read within a few milliseconds, not within `POLL_EVERY` (over the
/// last 1,000 registrations, less than a second, 250 ms was an error of up to a third).
const DRAIN_POLL_EVERY: Duration = Duration::from_millis(5);
/// How many refused registrations have their answer printed.
const SHOWN_ERRORS: usize = 5;

/// What the clients saw.
pub struct Posted {
    /// Registrations answered 201.
    pub accepted: u64,
    /// Registrations answered anything else, or not at all.
    pub errors: u64,
    /// Every POST's latency, sorted.
    pub latencies: Vec<Duration>,
}

/// Posts `total` registrations from `concurrency` clients, each with a fresh `Idempotency-Key`
/// and a unique email. `finished` is told when the last answer arrived and how many were accepted.
pub async fn post_registrations(
    client: &reqwest::Client,
    base_url: &str,
    total: usize,
    concurrency: usize,
    finished: watch::Sender<Option<Finished>>,
) -> anyhow::Result<Posted> {
    let url = format!("{base_url}/api/registrations");
    let run = Uuid::new_v4();
    let next = Arc::new(AtomicUsize::new(0));
    let shown = Arc::new(AtomicUsize::new(0));
    let mut workers = JoinSet::new();
    for _ in 0..concurrency {
        let (client, url, next, shown) = (client.clone(), url.clone(), next.clone(), shown.clone());
        workers.spawn(async move {
            let mut tally = Posted {
                accepted: 0,
                errors: 0,
                latencies: Vec::with_capacity(total / concurrency + 1),
            };
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    return tally;
                }
                let body = registration(&format!("bench.{i}.{run}@example.org"));
                let sent = Instant::now();
                let answer = post(&client, &url, body).await;
                tally.latencies.push(sent.elapsed());
                match answer {
                    Ok((StatusCode::CREATED, _)) => tally.accepted += 1,
                    refused => {
                        tally.errors += 1;
                        if shown.fetch_add(1, Ordering::Relaxed) < SHOWN_ERRORS {
                            match refused {
                                Ok((status, body)) => {
                                    eprintln!("registration {i}: {status}: {body}")
                                }
                                Err(e) => eprintln!("registration {i}: {e:#}"),
                            }
                        }
                    }
                }
            }
        });
    }
    let mut posted = Posted {
        accepted: 0,
        errors: 0,
        latencies: Vec::with_capacity(total),
    };
    while let Some(tally) = workers.join_next().await {
        let tally = tally.context("a client task failed")?;
        posted.accepted += tally.accepted;
        posted.errors += tally.errors;
        posted.latencies.extend(tally.latencies);
    }
    posted.latencies.sort_unstable();
    // The progress watcher may have stopped already (it failed); its error is the one reported.
    let _ = finished.send(Some(Finished {
        accepted: posted.accepted,
        at: Instant::now(),
    }));
    Ok(posted)
}

/// One POST: its status and body, once the body has been read (which frees the connection).
async fn post(
    client: &reqwest::Client,
    url: &str,
    body: Vec<u8>,
) -> anyhow::Result<(StatusCode, String)> {
    let response = client
        .post(url)
        .header(CONTENT_TYPE, "application/json")
        .header("Idempotency-Key", Uuid::new_v4().to_string())
        .body(body)
        .send()
        .await?;
    let status = response.status();
    Ok((status, response.text().await?))
}

/// A valid registration for a conference ticket, paid with a test Visa card.
fn registration(email: &str) -> Vec<u8> {
    json!({
        "ticket": "conference",
        "attendee": {
            "firstName": "Ada",
            "lastName": "Lovelace",
            "email": email,
            "organization": "Analytical Engines"
        },
        "card": {
            "name": "Ada Lovelace",
            "number": "4012888888881881",
            "expiry": "2030-12",
            "securityCode": "123"
        },
        "billingAddress": {
            "line1": "12 St James's Square",
            "city": "London",
            "postalCode": "SW1Y 4JH",
            "countryCode": "GB"
        },
        "newsletter": true
    })
    .to_string()
    .into_bytes()
}

/// The end of the posting.
#[derive(Debug, Clone, Copy)]
pub struct Finished {
    pub accepted: u64,
    pub at: Instant,
}

/// The counters of `GET /_emulator/api/stats` that make a registration complete end to end.
#[derive(Debug, Clone, Copy)]
pub struct Counts {
    orders: u64,
    emails: u64,
    members: u64,
}

impl Counts {
    fn from_stats(stats: &Value) -> anyhow::Result<Self> {
        let count = |field: &str| -> anyhow::Result<u64> {
            match stats.get(field) {
                Some(value) => value.as_u64().with_context(|| {
                    format!("GET /_emulator/api/stats: \"{field}\" is {value}, not a count")
                }),
                None => bail!("GET /_emulator/api/stats has no \"{field}\" count: {stats}"),
            }
        };
        Ok(Self {
            orders: count("orders")?,
            emails: count("emails")?,
            members: count("members")?,
        })
    }

    /// Registrations complete since `before`: order stored, email captured and member added.
    fn completed_since(&self, before: &Self) -> u64 {
        (self.orders.saturating_sub(before.orders))
            .min(self.emails.saturating_sub(before.emails))
            .min(self.members.saturating_sub(before.members))
    }
}

/// Asks `GET /_emulator/api/stats`.
pub async fn stats(client: &reqwest::Client, base_url: &str) -> anyhow::Result<(Value, Counts)> {
    let url = format!("{base_url}/_emulator/api/stats");
    let response = client
        .get(&url)
        .send()
        .await
        .with_context(|| format!("GET {url} failed"))?;
    let status = response.status();
    let body = response
        .text()
        .await
        .with_context(|| format!("GET {url}: could not read the answer"))?;
    if status == StatusCode::NOT_FOUND {
        bail!(
            "GET {url} answered 404: this emulator has no stats endpoint \
             (the bench needs its \"orders\", \"emails\" and \"members\" counts)"
        );
    }
    if status != StatusCode::OK {
        bail!("GET {url} answered {status}: {body}");
    }
    let stats: Value = serde_json::from_str(&body)
        .with_context(|| format!("GET {url} did not answer JSON: {body}"))?;
    let counts = Counts::from_stats(&stats)?;
    Ok((stats, counts))
}

/// The emulator's progress at one moment.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub at: Instant,
    /// Registrations complete end to end since the load started.
    pub completed: u64,
    /// The CPU time of the emulator's process tree so far, in clock ticks.
    pub cpu_ticks: u64,
}

impl Sample {
    /// The emulator's progress now, counted from `before` (the counts when the load started),
    /// and its children now.
    pub async fn take(
        client: &reqwest::Client,
        base_url: &str,
        pid: u32,
        before: &Counts,
    ) -> anyhow::Result<(Value, Self, Vec<Started>)> {
        let (stats, counts) = match stats(client, base_url).await {
            Ok(answer) => answer,
            Err(e) if !procfs::running(pid) => return Err(e.context("the emulator died")),
            Err(e) => return Err(e),
        };
        let at = Instant::now();
        let tree = procfs::tree(pid)?;
        let sample = Self {
            at,
            completed: counts.completed_since(before),
            cpu_ticks: tree.cpu_ticks,
        };
        Ok((stats, sample, tree.children))
    }
}

/// The progress: at the start of the load, then every [`POLL_EVERY`] while registrations are
/// posted, and every [`DRAIN_POLL_EVERY`] from the last answer on, until every accepted
/// registration is complete or `timeout` has passed since the last answer.
pub struct Progress {
    pub start: Sample,
    /// Seconds since the boot at `start` (`/proc/uptime`), the clock of a child's start time.
    pub start_uptime: f64,
    pub polls: Vec<Sample>,
    /// Every child of the emulator seen at the start or at a poll: in process mode, its function
    /// instances. The children are looked for at each poll only, so a child that started and
    /// exited between two polls (an instance that failed at once, say) is missed.
    pub children: BTreeSet<Started>,
    /// The last answer of `GET /_emulator/api/stats`, for a reader when registrations are lost.
    pub last_stats: Value,
}

pub async fn watch_progress(
    client: &reqwest::Client,
    base_url: &str,
    pid: u32,
    start: Baseline,
    mut finished: watch::Receiver<Option<Finished>>,
    timeout: Duration,
) -> anyhow::Result<Progress> {
    let Baseline {
        counts: before,
        sample: start,
        uptime: start_uptime,
        children,
    } = start;
    let mut children: BTreeSet<Started> = children.into_iter().collect();
    let mut polls = Vec::new();
    let mut ticks = tokio::time::interval_at((start.at + POLL_EVERY).into(), POLL_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        if finished.borrow().is_some() {
            tokio::time::sleep(DRAIN_POLL_EVERY).await;
        } else {
            tokio::select! {
                _ = ticks.tick() => {}
                // The posting ended (or failed, which ends this run too): ask at once.
                _ = finished.changed() => {}
            }
        }
        let (last_stats, sample, now) = Sample::take(client, base_url, pid, &before).await?;
        polls.push(sample);
        children.extend(now);
        let done = *finished.borrow();
        if let Some(done) = done
            && (sample.completed >= done.accepted || sample.at >= done.at + timeout)
        {
            return Ok(Progress {
                start,
                start_uptime,
                polls,
                children,
                last_stats,
            });
        }
    }
}

/// Where the load starts from.
pub struct Baseline {
    /// The counts before the load (a reused database may hold orders already).
    counts: Counts,
    /// The first sample.
    sample: Sample,
    /// Seconds since the boot at the first sample.
    uptime: f64,
    /// The emulator's children then.
    children: Vec<Started>,
}

/// Where the load starts from. Also checks, before any load, that the stats endpoint answers.
pub async fn baseline(
    client: &reqwest::Client,
    base_url: &str,
    pid: u32,
) -> anyhow::Result<Baseline> {
    let (_, counts) = stats(client, base_url).await?;
    let at = Instant::now();
    let uptime = procfs::uptime_seconds()?;
    let tree = procfs::tree(pid)?;
    Ok(Baseline {
        counts,
        sample: Sample {
            at,
            completed: 0,
            cpu_ticks: tree.cpu_ticks,
        },
        uptime,
        children: tree.children,
    })
}
