//! A process function's instances, as Lambda keeps them: started on demand, one invocation at a
//! time each, warm between invocations, replaced when they time out or exit (see the module above
//! for the environment each gets).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use tokio::process::{Child, Command};
use tokio::sync::Semaphore;

use super::runtime_api::{FunctionFailure, InvokeError, RuntimeApi};
use crate::functions::invocations::Invocations;
use crate::functions::{LogCapture, spawn_function_process};
use crate::names::REGION;

/// How one function runs. Not `Debug`: its environment holds the providers' secrets.
#[derive(Clone)]
pub struct FunctionSpec {
    pub name: String,
    pub executable: PathBuf,
    /// The function's `Handler`, given to its runtime as `_HANDLER` (`bootstrap` for ours; a
    /// runtime client such as AWS's `awslambdaric` reads `module.function` from it).
    pub handler: String,
    /// The function's own variables (`template.yaml`'s `Environment`).
    pub environment: Vec<(String, String)>,
    pub timeout: Duration,
    pub memory_mb: u32,
    /// The most instances at once.
    pub concurrency: usize,
    /// Where the functions' AWS SDK clients are sent (the emulator).
    pub endpoint_url: String,
    /// `LoggingConfig.LogFormat` is `JSON`: `AWS_LAMBDA_LOG_FORMAT=JSON` for its runtime.
    pub json_logs: bool,
    /// Where each invocation is recorded, with the lines it printed.
    pub invocations: Arc<Invocations>,
}

/// A started instance: its process, its Runtime API, the build it runs, and where its output is
/// kept while an invocation's log is collected.
struct Instance {
    api: RuntimeApi,
    child: Child,
    build: u64,
    log: LogCapture,
}

/// How long an invocation whose log is collected waits, after its answer, for the lines its
/// instance printed before answering (they come through a pipe, read by another task).
const LOG_DRAIN: Duration = Duration::from_millis(20);

impl Drop for Instance {
    fn drop(&mut self) {
        self.api.stop();
        // `kill_on_drop` stops the process.
    }
}

/// A function run as processes of its binary; see the module documentation.
pub struct LambdaFunction {
    spec: FunctionSpec,
    arn: String,
    /// The executable new instances run: `spec.executable` until a reload serves a new build.
    executable: Mutex<PathBuf>,
    /// How many new builds have been served; an instance of an earlier one is not kept warm.
    build: AtomicU64,
    idle: Mutex<Vec<Instance>>,
    slots: Semaphore,
    /// Each started instance's init (spawn to its first `/next`), in start order.
    init_durations: Mutex<Vec<Duration>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl LambdaFunction {
    pub fn new(spec: FunctionSpec) -> Arc<Self> {
        Arc::new(Self {
            arn: function_model::local_function_arn(&spec.name),
            executable: Mutex::new(spec.executable.clone()),
            build: AtomicU64::new(0),
            slots: Semaphore::new(spec.concurrency.max(1)),
            idle: Mutex::new(Vec::new()),
            init_durations: Mutex::new(Vec::new()),
            spec,
        })
    }

    pub fn name(&self) -> &str {
        &self.spec.name
    }

    pub fn timeout(&self) -> Duration {
        self.spec.timeout
    }

    /// The init of each instance started so far (spawn to its first `/next`), in start order.
    pub fn init_durations(&self) -> Vec<Duration> {
        lock(&self.init_durations).clone()
    }

    /// Invokes the function with `payload`, on a warm instance or a new one; see the module
    /// documentation for timeouts and exits.
    pub async fn invoke(
        &self,
        payload: Bytes,
        trace_id: Option<String>,
    ) -> Result<Bytes, InvokeError> {
        self.invoke_logged(payload, trace_id, false).await.0
    }

    /// [`LambdaFunction::invoke`], and the invocation's log as Lambda's `LogType=Tail` gives it:
    /// `START`, each line the instance printed during the invocation, `END`, `REPORT`.
    pub async fn invoke_with_log(
        &self,
        payload: Bytes,
        trace_id: Option<String>,
    ) -> (Result<Bytes, InvokeError>, Vec<String>) {
        self.invoke_logged(payload, trace_id, true).await
    }

    async fn invoke_logged(
        &self,
        payload: Bytes,
        trace_id: Option<String>,
        keep_log: bool,
    ) -> (Result<Bytes, InvokeError>, Vec<String>) {
        let request_id = uuid::Uuid::new_v4().to_string();
        let started = std::time::Instant::now();
        let invocations = &self.spec.invocations;
        invocations.begin(&request_id, &self.spec.name, trace_id.as_deref(), &payload);
        let (outcome, printed) = match self
            .run(request_id.clone(), payload, trace_id, keep_log)
            .await
        {
            Ok(ran) => ran,
            Err(no_instance) => (Err(no_instance), Vec::new()),
        };
        let took = started.elapsed().as_secs_f64() * 1000.0;
        match &outcome {
            Ok(answer) => invocations.end(&request_id, took, Ok(answer)),
            Err(InvokeError::Function(failure) | InvokeError::InitFailed(failure)) => invocations
                .end(
                    &request_id,
                    took,
                    Err((&failure.error_type, &failure.error_message)),
                ),
            Err(timed_out @ InvokeError::TimedOut(_)) => invocations.end(
                &request_id,
                took,
                Err(("Sandbox.Timedout", &timed_out.to_string())),
            ),
        }
        let mut log = Vec::new();
        if keep_log {
            let duration = started.elapsed().as_secs_f64() * 1000.0;
            log.push(format!("START RequestId: {request_id} Version: $LATEST"));
            log.extend(printed);
            log.push(format!("END RequestId: {request_id}"));
            log.push(format!(
                "REPORT RequestId: {request_id}\tDuration: {duration:.2} ms\tBilled Duration: {} ms\tMemory Size: {} MB\t",
                duration.ceil(),
                self.spec.memory_mb
            ));
        }
        (outcome, log)
    }

    /// One invocation as `request_id`: its outcome, and what the instance printed meanwhile when
    /// `keep_log`; an error when no instance could be had.
    async fn run(
        &self,
        request_id: String,
        payload: Bytes,
        trace_id: Option<String>,
        keep_log: bool,
    ) -> Result<(Result<Bytes, InvokeError>, Vec<String>), InvokeError> {
        let _slot = self
            .slots
            .acquire()
            .await
            .map_err(|_| init_failure("Runtime.Unavailable", "the function is stopping"))?;
        let (mut instance, cold) = match self.warm_instance() {
            Some(instance) => (instance, false),
            None => (self.start_instance().await?, true),
        };
        if keep_log {
            *lock(&instance.log) = Some(Vec::new());
        }
        let outcome = tokio::select! {
            outcome = instance.api.invoke(request_id, payload, self.spec.timeout, trace_id) => outcome,
            status = instance.child.wait() => Err(InvokeError::Function(FunctionFailure {
                error_type: "Runtime.ExitError".into(),
                error_message: match status {
                    Ok(status) => format!("Runtime exited ({status})"),
                    Err(e) => format!("Runtime exited: {e}"),
                },
            })),
        };
        if let Some(init) = instance.api.init_duration().filter(|_| cold) {
            // As Lambda's REPORT line gives `Init Duration` for a cold start.
            tracing::info!(
                function = %self.spec.name,
                init_ms = format!("{:.2}", init.as_secs_f64() * 1000.0),
                "new instance"
            );
            lock(&self.init_durations).push(init);
        }
        let printed = if keep_log {
            // A line printed just before the answer may still be in the pipe: let it arrive.
            tokio::time::sleep(LOG_DRAIN).await;
            lock(&instance.log).take().unwrap_or_default()
        } else {
            Vec::new()
        };
        let healthy = match &outcome {
            Ok(_) => true,
            Err(InvokeError::Function(failure)) => failure.error_type != "Runtime.ExitError",
            Err(InvokeError::TimedOut(_) | InvokeError::InitFailed(_)) => false,
        };
        if healthy && instance.build == self.build.load(Ordering::SeqCst) {
            lock(&self.idle).push(instance);
        } else if healthy {
            tracing::debug!(function = %self.spec.name, "an instance of the previous build stopped");
        } else {
            tracing::warn!(
                function = %self.spec.name,
                "instance stopped ({}); the next invocation starts a new one",
                outcome.as_ref().err().map(ToString::to_string).unwrap_or_default()
            );
        }
        Ok((outcome, printed))
    }

    /// An idle instance whose process still runs.
    fn warm_instance(&self) -> Option<Instance> {
        let mut idle = lock(&self.idle);
        while let Some(mut instance) = idle.pop() {
            if matches!(instance.child.try_wait(), Ok(None)) {
                return Some(instance);
            }
        }
        None
    }

    async fn start_instance(&self) -> Result<Instance, InvokeError> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| init_failure("Runtime.Unavailable", &e.to_string()))?;
        let runtime_api = listener
            .local_addr()
            .map_err(|e| init_failure("Runtime.Unavailable", &e.to_string()))?;
        let api = RuntimeApi::serve(listener, &self.arn);
        let spec = &self.spec;
        // Read together, so that an instance never counts as a build it does not run.
        let (executable, build) = {
            let executable = lock(&self.executable);
            (executable.clone(), self.build.load(Ordering::SeqCst))
        };
        let mut command = Command::new(&executable);
        command
            .env_clear()
            .envs(lambda_environment(spec, &runtime_api.to_string()))
            .envs(spec.environment.iter().map(|(k, v)| (k, v)));
        let log = LogCapture::default();
        let child = spawn_function_process(
            &mut command,
            &spec.name,
            Some(log.clone()),
            Some(spec.invocations.clone()),
        )
        .map_err(|e| {
            init_failure(
                "Runtime.InvalidEntrypoint",
                &format!("could not start {}: {e}", executable.display()),
            )
        })?;
        tracing::debug!(function = %spec.name, %runtime_api, "instance started");
        Ok(Instance {
            api,
            child,
            build,
            log,
        })
    }
}

impl crate::functions::reload::Reloadable for LambdaFunction {
    fn built_from(&self) -> &Path {
        &self.spec.executable
    }

    /// New instances run `executable`; the warm instances of the previous build stop, and those
    /// in an invocation finish it and then stop.
    fn serve(&self, executable: PathBuf) {
        let mut current = lock(&self.executable);
        *current = executable;
        self.build.fetch_add(1, Ordering::SeqCst);
        drop(current);
        let stopped = std::mem::take(&mut *lock(&self.idle));
        tracing::debug!(function = %self.spec.name, idle = stopped.len(), "serving a new build");
    }
}

/// The variables Lambda defines for a function's runtime, as documented ("Defined runtime
/// environment variables", <https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html>),
/// with local values where Lambda's would name the cloud. Not set: `AWS_EXECUTION_ENV` (Lambda
/// sets none for the OS-only `provided` runtimes either), `_X_AMZN_TRACE_ID` (a runtime client
/// reads the trace from each invocation's `Lambda-Runtime-Trace-Id` header, which the Runtime API
/// sends), `LAMBDA_RUNTIME_DIR` and `LD_LIBRARY_PATH` (Lambda's `/var/runtime` and `/var/lang`
/// folders do not exist here), and the X-Ray daemon's address (no daemon runs).
fn lambda_environment(spec: &FunctionSpec, runtime_api: &str) -> Vec<(&'static str, String)> {
    let task_root = spec.executable.parent().unwrap_or(Path::new("/"));
    // Lambda names each instance's log stream `YYYY/MM/DD/[$LATEST]` and 32 hex digits.
    let log_stream = format!(
        "{}/[$LATEST]{}",
        chrono::Utc::now().format("%Y/%m/%d"),
        uuid::Uuid::new_v4().simple()
    );
    let mut variables = vec![
        ("_HANDLER", spec.handler.clone()),
        ("AWS_LAMBDA_RUNTIME_API", runtime_api.to_owned()),
        ("AWS_LAMBDA_FUNCTION_NAME", spec.name.clone()),
        (
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            spec.memory_mb.to_string(),
        ),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".to_owned()),
        (
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/{}", spec.name),
        ),
        ("AWS_LAMBDA_LOG_STREAM_NAME", log_stream),
        ("AWS_REGION", REGION.to_owned()),
        ("AWS_DEFAULT_REGION", REGION.to_owned()),
        // The execution role's credentials: any, since the emulator checks no signature.
        ("AWS_ACCESS_KEY", "emulator".to_owned()),
        ("AWS_ACCESS_KEY_ID", "emulator".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "emulator".to_owned()),
        ("AWS_SESSION_TOKEN", "emulator".to_owned()),
        ("AWS_XRAY_CONTEXT_MISSING", "LOG_ERROR".to_owned()),
        ("LAMBDA_TASK_ROOT", task_root.display().to_string()),
        ("PATH", "/usr/local/bin:/usr/bin:/bin:/opt/bin".to_owned()),
        ("LANG", "en_US.UTF-8".to_owned()),
        ("TZ", ":UTC".to_owned()),
        // Not Lambda's: where the functions' AWS SDK clients find SQS and Step Functions.
        ("AWS_ENDPOINT_URL", spec.endpoint_url.clone()),
    ];
    if spec.json_logs {
        // Lambda's advanced logging controls, for `LoggingConfig.LogFormat: JSON`.
        variables.push(("AWS_LAMBDA_LOG_FORMAT", "JSON".to_owned()));
    }
    variables
}

fn init_failure(error_type: &str, message: &str) -> InvokeError {
    InvokeError::InitFailed(FunctionFailure {
        error_type: error_type.to_owned(),
        error_message: message.to_owned(),
    })
}
