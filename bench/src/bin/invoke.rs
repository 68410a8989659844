//! `cargo run --release -p bench --bin invoke`: what process mode costs per invocation.
//!
//! The emulator's process mode runs each function as its real binary under a Lambda Runtime API
//! (`emulator::aws::lambda`). This measures, for each of the five functions built in release mode
//! (`emulator::functions::build_binaries`, as `cargo run --release -p emulator -- --functions
//! process` builds them):
//!
//! - its binary's size (stripped by the release profile), and that file deflated at level 9, as a
//!   Lambda zip holds it (these are x86_64 binaries with the emulator's features, SQLite
//!   included; CI prints the arm64 zips that deploy);
//! - init: from spawning a new instance to its first `/next` (Lambda's `Init Duration`);
//! - cold invocations: a new instance each time, from spawning the process to the answer of its
//!   first invocation;
//! - warm invocations on one instance: p50 and p99 over many, one after the other.
//!
//! A last row measures a function that AWS's own runtime client runs, not Rust's: Python's
//! `awslambdaric` behind a `bootstrap`, with `Handler: handler.handle` (the emulator's test
//! fixture `emulator/tests/integration/python-function`), when `python3` can import it.
//!
//! Each function gets a payload that runs its handler without calling a provider: the ticket
//! list for payment, an empty SQS batch for the orchestrator, and an input the task functions
//! refuse (`InvalidInput`) for the three tasks. Settings point at nothing reachable, since no
//! function calls out at init. It prints one markdown table.
//!
//! ```text
//! cargo run --release -p bench --bin invoke
//! cargo run --release -p bench --bin invoke -- --cold 20 --warm 2000
//! ```

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use emulator::aws::lambda::runtime_api::InvokeError;
use emulator::aws::lambda::{FunctionSpec, LambdaFunction};
use serde_json::{Value, json};

#[derive(Debug, Parser)]
#[command(about = "Measure process mode's cold and warm invocations and print one table.")]
struct Args {
    /// Cold invocations per function (each on a new instance).
    #[arg(long, default_value_t = 20)]
    cold: usize,
    /// Warm invocations per function, one after the other on one instance.
    #[arg(long, default_value_t = 2000)]
    warm: usize,
}

/// The variables each function needs to start, and the payload that runs its handler.
fn setup(name: &str, dir: &Path) -> (Vec<(String, String)>, Value) {
    let database = (
        "DATABASE_URL".to_owned(),
        format!("sqlite://{}/bench.db", dir.display()),
    );
    let pairs = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };
    match name {
        "payment" => {
            let mut environment = pairs(&[
                ("PAYPAL_BASE_URL", "http://127.0.0.1:1/paypal"),
                ("PAYPAL_CLIENT_ID", "bench"),
                ("PAYPAL_CLIENT_SECRET", "bench"),
                (
                    "REGISTRATIONS_QUEUE_URL",
                    "http://127.0.0.1:1/000000000000/RegistrationsQueue",
                ),
            ]);
            environment.push(database);
            let event = json!({
                "version": "2.0", "routeKey": "GET /api/tickets", "rawPath": "/api/tickets",
                "rawQueryString": "", "headers": {"host": "bench"},
                "requestContext": {"accountId": "000000000000", "apiId": "bench", "domainName": "bench",
                    "domainPrefix": "bench", "http": {"method": "GET", "path": "/api/tickets",
                    "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "bench"},
                    "requestId": "bench", "routeKey": "GET /api/tickets", "stage": "$default",
                    "time": "30/Nov/2026:00:00:00 +0000", "timeEpoch": 0},
                "isBase64Encoded": false
            });
            (environment, event)
        }
        "orchestrator" => (
            pairs(&[
                (
                    "STATE_MACHINE_ARN",
                    "arn:aws:states:us-east-1:000000000000:stateMachine:Bench",
                ),
                (
                    "DEAD_LETTER_QUEUE_URL",
                    "http://127.0.0.1:1/000000000000/RegistrationsDeadLetterQueue",
                ),
            ]),
            json!({ "Records": [] }),
        ),
        "save-order" => (vec![database], json!({})),
        "email" => (
            pairs(&[
                ("SENDGRID_BASE_URL", "http://127.0.0.1:1/sendgrid"),
                ("SENDGRID_API_KEY", "bench"),
                ("EMAIL_FROM", "bench@example.org"),
            ]),
            json!({}),
        ),
        _ => (
            pairs(&[
                ("MAILCHIMP_BASE_URL", "http://127.0.0.1:1/mailchimp"),
                ("MAILCHIMP_API_KEY", "bench-us1"),
                ("MAILCHIMP_LIST_ID", "bench"),
            ]),
            json!({}),
        ),
    }
}

fn function(
    name: &str,
    executable: &Path,
    handler: &str,
    environment: Vec<(String, String)>,
) -> std::sync::Arc<LambdaFunction> {
    LambdaFunction::new(FunctionSpec {
        name: name.to_owned(),
        executable: executable.to_owned(),
        handler: handler.to_owned(),
        environment,
        timeout: Duration::from_secs(10),
        memory_mb: 128,
        concurrency: 1,
        endpoint_url: "http://127.0.0.1:1".into(),
        json_logs: false,
        invocations: Default::default(),
    })
}

/// One invocation's time; a function error counts (the refused inputs are the point), a timeout
/// or a failed start does not.
async fn timed(function: &LambdaFunction, payload: &Value) -> anyhow::Result<Duration> {
    let started = Instant::now();
    match function.invoke(payload.to_string().into(), None).await {
        Ok(_) | Err(InvokeError::Function(_)) => Ok(started.elapsed()),
        Err(e) => Err(anyhow::anyhow!("{} failed: {e}", function.name())),
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// The size of `path` deflated at level 9, as a zip stores it.
fn deflated_size(path: &Path) -> anyhow::Result<u64> {
    use std::io::Write;
    let bytes =
        std::fs::read(path).with_context(|| format!("could not read {}", path.display()))?;
    let mut encoder = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(&bytes)?;
    Ok(encoder.finish()?.len() as u64)
}

/// A Python function under `awslambdaric` in `dir/python`, as a custom runtime's `CodeUri` folder
/// holds it, or `None` without a `python3` that can import it. Its `bootstrap` names that Python
/// by its full path: Lambda's `PATH` reaches only the system's folders.
fn python_function(dir: &Path) -> anyhow::Result<Option<std::path::PathBuf>> {
    let found = std::process::Command::new("python3")
        .args(["-c", "import awslambdaric, sys; print(sys.executable)"])
        .output();
    let python = match found {
        Ok(output) if output.status.success() => {
            String::from_utf8_lossy(&output.stdout).trim().to_owned()
        }
        _ => return Ok(None),
    };
    let code = dir.join("python");
    std::fs::create_dir_all(&code)?;
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../emulator/tests/integration/python-function/handler.py");
    std::fs::copy(&fixture, code.join("handler.py"))
        .with_context(|| format!("could not copy {}", fixture.display()))?;
    let bootstrap = code.join("bootstrap");
    std::fs::write(
        &bootstrap,
        format!(
            "#!/bin/sh\ncd \"$LAMBDA_TASK_ROOT\" && exec {python} -m awslambdaric \"$_HANDLER\"\n"
        ),
    )?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&bootstrap, std::fs::Permissions::from_mode(0o755))?;
    Ok(Some(bootstrap))
}

/// Init, cold and warm figures of one function, as the table's last three cells.
async fn measure(
    args: &Args,
    name: &str,
    executable: &Path,
    handler: &str,
    environment: Vec<(String, String)>,
    payload: &Value,
) -> anyhow::Result<String> {
    let mut cold = Vec::with_capacity(args.cold);
    let mut inits = Vec::with_capacity(args.cold);
    for _ in 0..args.cold {
        let fresh = function(name, executable, handler, environment.clone());
        cold.push(timed(&fresh, payload).await?);
        inits.extend(fresh.init_durations());
    }
    cold.sort();
    inits.sort();
    anyhow::ensure!(!inits.is_empty(), "{name}: no instance reported its init");
    let warm_function = function(name, executable, handler, environment);
    timed(&warm_function, payload).await?;
    let mut warm = Vec::with_capacity(args.warm);
    for _ in 0..args.warm {
        warm.push(timed(&warm_function, payload).await?);
    }
    warm.sort();
    Ok(format!(
        "{} / {} | {} / {} | {} / {}",
        ms(percentile(&inits, 0.5)),
        ms(inits[inits.len() - 1]),
        ms(percentile(&cold, 0.5)),
        ms(cold[cold.len() - 1]),
        ms(percentile(&warm, 0.5)),
        ms(percentile(&warm, 0.99)),
    ))
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(
        args.cold > 0 && args.warm > 0,
        "--cold and --warm must be at least 1"
    );
    let binaries = tokio::task::spawn_blocking(emulator::functions::build_binaries).await??;
    let dir = std::env::temp_dir().join(format!("invoke-bench-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).with_context(|| format!("could not create {}", dir.display()))?;
    println!(
        "| function | binary / deflated | init p50 / max | cold invoke p50 / max ({} runs) | warm invoke p50 / p99 ({} runs) |",
        args.cold, args.warm
    );
    println!("|---|---|---|---|---|");
    for name in
        emulator::functions::FunctionCrate::ALL.map(emulator::functions::FunctionCrate::binary)
    {
        let executable = &binaries[name];
        let size = std::fs::metadata(executable)?.len();
        let sizes = format!(
            "{:.1} MB / {:.1} MB",
            size as f64 / 1_000_000.0,
            deflated_size(executable)? as f64 / 1_000_000.0
        );
        let (environment, payload) = setup(name, &dir);
        let row = measure(&args, name, executable, "bootstrap", environment, &payload).await?;
        println!("| {name} | {sizes} | {row} |");
    }
    match python_function(&dir)? {
        Some(bootstrap) => {
            let payload = json!({"hello": "world"});
            let row = measure(
                &args,
                "python",
                &bootstrap,
                "handler.handle",
                Vec::new(),
                &payload,
            )
            .await?;
            println!("| python (awslambdaric) | – | {row} |");
        }
        None => eprintln!("no python row: python3 cannot import awslambdaric"),
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
