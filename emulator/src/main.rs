//! `cargo run -p emulator`: the whole registration system on this machine.
//!
//! Serves on 127.0.0.1:3000 by default (`--port 0` picks a free port and prints it), stores orders
//! in `DATABASE_URL` (default: a SQLite file under `.emulator/`), talks to the real PayPal, SendGrid
//! or Mailchimp when their settings are in the environment (see `Providers::from_env`), and stops
//! cleanly on Ctrl-C or SIGTERM. `cargo run -p emulator -- invoke FUNCTION` invokes one function
//! of a running emulator instead (see `emulator::invoke`).

use std::path::{Path, PathBuf};

/// mimalloc instead of the system allocator: the emulator allocates and frees many small JSON
/// values per registration, and glibc's malloc took about a sixth of its CPU time under load
/// (`perf`, see docs/performance-log.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use anyhow::Context;
use clap::Parser;
use clients::config::ProcessEnv;
use tokio::net::TcpListener;

#[derive(Debug, Parser)]
#[command(
    about = "Run the conference-registration system locally: site, API, queue, workflow and providers.",
    args_conflicts_with_subcommands = true
)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    /// Port to listen on, on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 3000)]
    port: u16,
    /// Where orders, queues, executions and records are kept (default:
    /// sqlite://.emulator/registrations.db).
    #[arg(long, env = "DATABASE_URL")]
    database_url: Option<String>,
    /// The SAM template whose functions, routes, queues, event sources and state machine run
    /// (default: ./template.yaml, else the workspace's).
    #[arg(long, value_name = "PATH")]
    template: Option<PathBuf>,
    /// Values of the template's parameters, as `sam deploy` takes them: Name=Value (or
    /// ParameterKey=Name,ParameterValue=Value), several separated by spaces.
    #[arg(long, value_name = "NAME=VALUE", num_args = 1.., value_parser = parameter_override)]
    parameter_overrides: Vec<(String, String)>,
    /// Seconds a received message stays hidden before it is delivered again, for every queue (in
    /// place of the template's VisibilityTimeout); shorter makes redelivery, and the dead-letter
    /// queue, quick to see.
    #[arg(long, value_name = "SECONDS")]
    visibility_timeout: Option<u64>,
    /// Receives of a message before it moves to its dead-letter queue, for every redrive policy
    /// (in place of the template's maxReceiveCount).
    #[arg(long, value_name = "COUNT", value_parser = clap::value_parser!(u32).range(1..=1000))]
    max_receive_count: Option<u32>,
    /// Seconds after which an execution left running by a process that died is resumed.
    #[arg(long, value_name = "SECONDS", default_value_t = 15)]
    execution_lease: u64,
    /// Take each API request's client address from its last X-Forwarded-For entry, as behind a
    /// proxy that adds it, so that one machine can play many clients (the payment function's
    /// limits per address): curl -H 'X-Forwarded-For: 203.0.113.9' …. Off by default: a header a
    /// client sets is no address.
    #[arg(long)]
    trust_forwarded_for: bool,
    /// The origin of a site served elsewhere (e.g. http://localhost:8080) that may call the API
    /// from a browser (CORS, as template.yaml's SiteOrigin). The site served here needs none.
    #[arg(long, env = "SITE_ORIGIN", value_name = "ORIGIN")]
    site_origin: Option<String>,
    /// How the functions run: `process` (their binaries, built with cargo, each instance a
    /// process under the Lambda Runtime API, reaching the emulator's SQS and Step Functions
    /// through AWS_ENDPOINT_URL, as on Lambda) or `in-process` (their libraries, inside the
    /// emulator: quicker to start, and what the load benchmark measures).
    #[arg(long, value_enum, default_value_t = FunctionsMode::Process)]
    functions: FunctionsMode,
    /// With `--functions process`: the binaries in this folder (NAME/bootstrap, as `cargo lambda
    /// build` leaves them, or NAME) instead of building them with cargo.
    #[arg(long, value_name = "DIR")]
    function_binaries: Option<std::path::PathBuf>,
    /// In process mode, do not build and serve the functions again when a source file they are
    /// built from changes (reload on save is on by default when cargo builds them).
    #[arg(long)]
    no_watch: bool,
    /// Which cloud's topology runs: `aws` (template.yaml: API Gateway, SQS, Lambda, Step
    /// Functions) or `azure` (infra/azure: the Functions host running the Function App's custom
    /// handler, Service Bus queues).
    #[arg(long, value_enum, default_value_t = CloudArg::Aws)]
    cloud: CloudArg,
    /// With `--cloud azure`: the Function App's folder (host.json, function folders,
    /// servicebus.json); default `infra/azure`.
    #[arg(long, value_name = "DIR")]
    azure_app: Option<PathBuf>,
    /// How much lower than the emulator's own priority its async runtime's threads run (a `nice`
    /// increment, 0 to 19; Linux only). The SQLite connections' threads, opened before, keep the
    /// emulator's priority: every write waits for the one writer, and on a busy machine it was
    /// otherwise made to wait for a core behind the threads that feed it (see docs/durability.md and
    /// docs/performance-log.md). 0 runs every thread alike.
    #[arg(long, value_name = "INCREMENT", default_value_t = 10, value_parser = clap::value_parser!(i32).range(0..=19))]
    runtime_nice: i32,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Invoke one function of a running emulator with an event (a file, standard input or a
    /// sample), through Lambda's Invoke API, and print its log lines and its answer.
    Invoke(emulator::invoke::InvokeArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum FunctionsMode {
    InProcess,
    Process,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum CloudArg {
    Aws,
    Azure,
}

const DEFAULT_DATABASE: &str = ".emulator/registrations.db";

fn main() -> anyhow::Result<std::process::ExitCode> {
    let mut args = Args::parse();
    if let Some(Command::Invoke(invoke)) = args.command.take() {
        return Ok(invoke_one(&invoke));
    }
    let runtime_nice = args.runtime_nice;
    // The main thread is not one of the runtime's: it runs `run` (which opens the database, see
    // `--runtime-nice`) at the emulator's own priority.
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .on_thread_start(move || lower_this_threads_priority(runtime_nice))
        .build()
        .context("could not start the async runtime")?
        .block_on(run(args))?;
    Ok(std::process::ExitCode::SUCCESS)
}

/// `emulator invoke`: 0 when the function answered, 1 when it failed, 2 when nothing could be
/// invoked (said in one line).
fn invoke_one(args: &emulator::invoke::InvokeArgs) -> std::process::ExitCode {
    let outcome = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("could not start the async runtime: {e}"))
        .and_then(|runtime| runtime.block_on(emulator::invoke::invoke(args)));
    match outcome {
        Ok(emulator::invoke::Outcome::Answered) => std::process::ExitCode::SUCCESS,
        Ok(emulator::invoke::Outcome::FunctionFailed) => std::process::ExitCode::from(1),
        Err(why) => {
            eprintln!("emulator invoke: {why}");
            std::process::ExitCode::from(2)
        }
    }
}

/// Lowers the calling thread's priority by `increment` (Linux's `nice` is per thread). Failing to
/// is not fatal: the emulator runs, with every thread alike.
fn lower_this_threads_priority(increment: i32) {
    #[cfg(target_os = "linux")]
    if increment > 0
        && let Err(e) = rustix::process::nice(increment)
    {
        eprintln!("could not lower a runtime thread's priority: {e}");
    }
    #[cfg(not(target_os = "linux"))]
    let _ = increment;
}

async fn run(args: Args) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .init();

    let database_url = match args.database_url {
        Some(url) => url,
        None => {
            std::fs::create_dir_all(
                Path::new(DEFAULT_DATABASE)
                    .parent()
                    .unwrap_or(Path::new(".")),
            )
            .context("could not create the .emulator directory")?;
            format!("sqlite://{DEFAULT_DATABASE}")
        }
    };
    let listener = TcpListener::bind(("127.0.0.1", args.port))
        .await
        .with_context(|| {
            format!(
                "could not listen on 127.0.0.1:{} (is another emulator running? try --port 0)",
                args.port
            )
        })?;
    let mut config = emulator::Config::new(&database_url);
    config.template = match args.template {
        Some(path) => path,
        None if Path::new("template.yaml").is_file() => PathBuf::from("template.yaml"),
        None => emulator::workspace_template(),
    };
    config.parameter_overrides = args.parameter_overrides;
    config.trust_forwarded_for = args.trust_forwarded_for;
    config.visibility_timeout = args.visibility_timeout.map(std::time::Duration::from_secs);
    config.max_receive_count = args.max_receive_count;
    config.execution_lease = std::time::Duration::from_secs(args.execution_lease.max(1));
    config.providers = emulator::Providers::from_env(&ProcessEnv).context("provider settings")?;
    config.site_origin = args
        .site_origin
        .map(|origin| emulator::site_origin(&origin))
        .transpose()
        .context("--site-origin")?;
    if let Some(ms) = std::env::var("PAYPAL_DEADLINE_MS")
        .ok()
        .filter(|_| config.providers.paypal.is_none())
    {
        let ms: u64 = ms
            .parse()
            .context("PAYPAL_DEADLINE_MS must be a whole number of milliseconds")?;
        config.paypal_deadline = std::time::Duration::from_millis(ms);
    }
    let binaries = |names: &[String]| -> anyhow::Result<_> {
        match &args.function_binaries {
            Some(dir) => emulator::functions::binaries_in(dir, names),
            None => tokio::task::block_in_place(emulator::functions::build_binaries),
        }
    };
    let mode = match (args.cloud, args.functions) {
        (CloudArg::Azure, FunctionsMode::InProcess) => {
            anyhow::bail!(
                "--cloud azure runs the functions as the Function App's custom handler: drop --functions in-process"
            )
        }
        (CloudArg::Azure, FunctionsMode::Process) => {
            let app_dir = match args.azure_app {
                Some(dir) => dir,
                None if Path::new("infra/azure/host.json").is_file() => {
                    PathBuf::from("infra/azure")
                }
                None => emulator::azure::app::workspace_app(),
            };
            let mut built = binaries(&["handler".to_owned()])?;
            config.cloud = emulator::Cloud::Azure(emulator::AzureConfig {
                app_dir: app_dir.clone(),
                handler: built.remove("handler").context("no handler binary")?,
            });
            config.reload_on_save = args.function_binaries.is_none() && !args.no_watch;
            format!(
                "the Azure Function App in {} (its custom handler, as the Functions host runs it{})",
                app_dir.display(),
                if config.reload_on_save {
                    "; rebuilt and reloaded on save"
                } else {
                    ""
                }
            )
        }
        (CloudArg::Aws, FunctionsMode::InProcess) => {
            anyhow::ensure!(
                args.function_binaries.is_none(),
                "--function-binaries needs --functions process"
            );
            "in-process (their libraries)".to_owned()
        }
        (CloudArg::Aws, FunctionsMode::Process) => {
            let names = emulator::aws::template::Template::load(&config.template)?.cargo_binaries();
            config.functions = emulator::Functions::Process(binaries(&names)?);
            config.reload_on_save = args.function_binaries.is_none() && !args.no_watch;
            if config.reload_on_save {
                "process (their binaries, as on Lambda; rebuilt and reloaded on save)".to_owned()
            } else {
                "process (their binaries, as on Lambda)".to_owned()
            }
        }
    };
    let providers = config.providers.describe();
    let topology = match &config.cloud {
        emulator::Cloud::Aws => format!("template    {}", config.template.display()),
        emulator::Cloud::Azure(azure) => format!("azure app   {}", azure.app_dir.display()),
    };
    let emulator = emulator::start(config, listener).await?;
    let url = emulator.url();
    println!(
        "\nRegistration emulator ready on {url}\n\
         \x20 site        {url}/\n\
         \x20 API         GET {url}/api/tickets  ·  POST {url}/api/registrations\n\
         \x20 inspector   {url}/_emulator  (JSON: {url}/_emulator/api/…)\n\
         \x20 {topology}\n\
         \x20 functions   {mode}\n\
         \x20 database    {database_url}\n\
         \x20 providers   {providers}\n\
         Press Ctrl-C to stop.\n"
    );
    wait_for_stop().await?;
    tracing::info!("shutting down");
    emulator.shutdown().await;
    Ok(())
}

/// `Name=Value` or `ParameterKey=Name,ParameterValue=Value`, as `sam deploy --parameter-overrides`.
fn parameter_override(raw: &str) -> Result<(String, String), String> {
    let long = raw
        .strip_prefix("ParameterKey=")
        .and_then(|rest| rest.split_once(",ParameterValue="));
    let (name, value) = long
        .or_else(|| raw.split_once('='))
        .ok_or_else(|| format!("{raw:?} is not Name=Value"))?;
    if name.is_empty() {
        return Err(format!("{raw:?} names no parameter"));
    }
    Ok((name.to_owned(), value.to_owned()))
}

/// Waits for Ctrl-C (SIGINT) or, on Unix, SIGTERM (what process managers send).
async fn wait_for_stop() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .context("could not listen for SIGTERM")?;
        tokio::select! {
            signal = tokio::signal::ctrl_c() => signal.context("could not listen for Ctrl-C"),
            _ = terminate.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c()
        .await
        .context("could not listen for Ctrl-C")
}
