//! The registration workflow as the Azure orchestrator runs it (`azure_app::workflow`): the real
//! state machine, durable executions on SQLite and on PostgreSQL, and task functions that count
//! their calls. Each scenario is what Service Bus can do to one `OrderPlaced` message:
//! - delivered again after the invocation running it died: the execution resumes from its
//!   checkpoints, and a task that completed (the confirmation email) is not run again;
//! - delivered twice at once: the execution runs once, and both deliveries succeed;
//! - a step that fails for good: the execution fails, the delivery succeeds, a later delivery runs
//!   nothing; an operator's redrive runs the failed step again, and only it.
//!
//! And what an operator's redrive answers through the app's `redrive` function.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use azure_app::redrive::Redrive;
use azure_app::workflow::{InlineWorkflow, registration_machine};
use clients::workflow::{StartError, StartOutcome, WorkflowStarter};
use durable::{Db, ExecutionStatus, Executions};
use function_model::azure::with_outputs;
use function_model::{
    ErrorType, FunctionError, HttpFunction, HttpRequest, Invocation, TaskFunction,
};
use serde_json::{Value, json};
use tokio::sync::Notify;

const LEASE: Duration = Duration::from_secs(15);

/// A task function that counts its calls, and can hang (its process dies there) or fail for good.
struct Task {
    name: &'static str,
    calls: Mutex<u32>,
    hang: Option<Arc<Notify>>,
    fail: bool,
}

impl Task {
    fn new(name: &'static str) -> Arc<Self> {
        Arc::new(Self {
            name,
            calls: Mutex::new(0),
            hang: None,
            fail: false,
        })
    }

    fn calls(&self) -> u32 {
        *self.calls.lock().expect("lock")
    }
}

#[async_trait]
impl TaskFunction for Task {
    async fn handle(&self, _: &Invocation, input: Value) -> Result<Value, FunctionError> {
        *self.calls.lock().expect("lock") += 1;
        if let Some(started) = &self.hang {
            started.notify_one();
            std::future::pending::<()>().await;
        }
        if self.fail {
            return Err(FunctionError::new(
                ErrorType::StoreError,
                "the store refused it",
            ));
        }
        Ok(json!({ "task": self.name, "order": input["orderId"] }))
    }
}

struct Tasks {
    save_order: Arc<Task>,
    email: Arc<Task>,
    mailing_list: Arc<Task>,
}

impl Tasks {
    fn new() -> Self {
        Self {
            save_order: Task::new("save-order"),
            email: Task::new("email"),
            mailing_list: Task::new("mailing-list"),
        }
    }

    fn workflow(&self, db: &Db, wait_limit: Duration) -> InlineWorkflow {
        InlineWorkflow::new(
            registration_machine().expect("the registration machine"),
            Executions::new(db.clone(), LEASE),
            vec![
                (
                    "save-order",
                    self.save_order.clone() as Arc<dyn TaskFunction>,
                ),
                ("email", self.email.clone()),
                ("mailing-list", self.mailing_list.clone()),
            ],
            wait_limit,
            None,
        )
        .expect("every task is there")
    }

    fn counts(&self) -> [u32; 3] {
        [
            self.save_order.calls(),
            self.email.calls(),
            self.mailing_list.calls(),
        ]
    }
}

fn order() -> Value {
    let order: Value = serde_json::from_str(include_str!(
        "../../../shared/domain/data/order-placed.example.json"
    ))
    .expect("the example order");
    json!({ "order": order })
}

async fn status(db: &Db, name: &str) -> ExecutionStatus {
    Executions::new(db.clone(), LEASE)
        .get(name)
        .await
        .expect("reads")
        .expect("exists")
        .summary
        .status
}

/// Moves tokio's clock (and the databases' with it) ahead at once.
async fn skip(by: Duration) {
    tokio::time::pause();
    tokio::time::advance(by).await;
    tokio::time::resume();
}

async fn a_redelivery_resumes_without_a_second_email(db: Db) {
    let mut first = Tasks::new();
    let hung = Arc::new(Notify::new());
    first.mailing_list = Arc::new(Task {
        hang: Some(hung.clone()),
        ..Arc::into_inner(first.mailing_list).expect("one owner")
    });
    let workflow = Arc::new(first.workflow(&db, Duration::from_secs(30)));
    let running = tokio::spawn({
        let workflow = workflow.clone();
        async move { with_outputs(workflow.start("o-1", order())).await }
    });
    hung.notified().await;
    // Let the other branches finish and checkpoint before the invocation dies.
    tokio::time::sleep(Duration::from_millis(300)).await;
    running.abort();
    assert_eq!(first.counts(), [1, 1, 1]);

    let second = Tasks::new();
    let redelivered = second.workflow(&db, Duration::from_secs(30));
    skip(LEASE + Duration::from_secs(1)).await;
    let (outcome, outputs) = with_outputs(redelivered.start("o-1", order())).await;
    assert_eq!(outcome.expect("runs"), StartOutcome::Started, "resumed");
    assert_eq!(
        second.counts(),
        [0, 0, 1],
        "only the unfinished task runs again"
    );
    assert!(matches!(
        status(&db, "o-1").await,
        ExecutionStatus::Succeeded { .. }
    ));
    assert!(outputs.is_empty(), "the orchestrator writes nothing");
}

async fn two_deliveries_at_once_run_it_once(db: Db) {
    let tasks = Tasks::new();
    let workflow = tasks.workflow(&db, Duration::from_secs(30));
    let (a, b) = tokio::join!(
        with_outputs(workflow.start("o-2", order())),
        with_outputs(workflow.start("o-2", order())),
    );
    let mut outcomes = [a.0.expect("succeeds"), b.0.expect("succeeds")];
    outcomes.sort_by_key(|o| *o == StartOutcome::AlreadyStarted);
    assert_eq!(
        outcomes,
        [StartOutcome::Started, StartOutcome::AlreadyStarted]
    );
    assert_eq!(tasks.counts(), [1, 1, 1], "each task once");
}

async fn a_failed_step_is_redriven_by_an_operator(db: Db) {
    let mut tasks = Tasks::new();
    tasks.save_order = Arc::new(Task {
        fail: true,
        ..Arc::into_inner(tasks.save_order).expect("one owner")
    });
    let workflow = tasks.workflow(&db, Duration::from_secs(30));
    let (outcome, outputs) = with_outputs(workflow.start("o-3", order())).await;
    assert_eq!(
        outcome.expect("the delivery succeeds: the order is safe in the execution"),
        StartOutcome::Started
    );
    assert!(outputs.is_empty(), "{outputs:?}");
    assert_eq!(
        status(&db, "o-3").await,
        ExecutionStatus::Failed {
            error: "StoreError".into(),
            cause: "the store refused it".into()
        }
    );
    let first_run = tasks.counts();
    let (again, _) = with_outputs(workflow.start("o-3", order())).await;
    assert_eq!(again.expect("succeeds"), StartOutcome::AlreadyStarted);
    assert_eq!(
        tasks.counts(),
        first_run,
        "a finished execution runs nothing"
    );

    // The store is back: the operator redrives, through the app's function.
    let fixed = Tasks {
        email: tasks.email.clone(),
        mailing_list: tasks.mailing_list.clone(),
        ..Tasks::new()
    };
    let redrive = Redrive(Arc::new(fixed.workflow(&db, Duration::from_secs(30))));
    let (status_code, body) = redrive_call(&redrive, "o-3").await;
    assert_eq!(status_code, 200, "{body}");
    assert_eq!(
        (&body["status"], &body["redriveCount"]),
        (&json!("SUCCEEDED"), &json!(1))
    );
    // The failed step ran again; a step the failure stopped before it ran (the other branches of
    // the Parallel state stop with it) ran now; none that completed ran twice.
    assert_eq!(
        fixed.counts(),
        [1, 1, 1],
        "save-order once more; email and mailing list once in all"
    );

    let (status_code, body) = redrive_call(&redrive, "o-3").await;
    assert_eq!(status_code, 409, "{body}");
    assert_eq!(
        body["message"],
        "Execution is SUCCEEDED and cannot be redriven."
    );
    let (status_code, body) = redrive_call(&redrive, "o-none").await;
    assert_eq!(status_code, 404, "{body}");
}

/// Calls the `redrive` function as the host would for `POST /api/executions/{name}/redrive`.
async fn redrive_call(redrive: &Redrive, name: &str) -> (u16, Value) {
    let request = HttpRequest {
        method: http::Method::POST,
        path: format!("/api/executions/{name}/redrive"),
        query: String::new(),
        path_parameters: [("name".to_owned(), name.to_owned())].into(),
        source_ip: None,
        headers: http::HeaderMap::new(),
        body: Default::default(),
    };
    let answer = redrive
        .handle(
            &Invocation::local("redrive", Duration::from_secs(30), None),
            request,
        )
        .await;
    let body = serde_json::from_slice(&answer.body).expect("a JSON answer");
    (answer.status.as_u16(), body)
}

async fn a_delivery_gives_up_waiting_for_a_live_run(db: Db) {
    let mut tasks = Tasks::new();
    let hung = Arc::new(Notify::new());
    tasks.email = Arc::new(Task {
        hang: Some(hung.clone()),
        ..Arc::into_inner(tasks.email).expect("one owner")
    });
    let workflow = Arc::new(tasks.workflow(&db, Duration::from_secs(1)));
    let running = tokio::spawn({
        let workflow = workflow.clone();
        async move { with_outputs(workflow.start("o-4", order())).await }
    });
    hung.notified().await;
    let (outcome, _) = with_outputs(workflow.start("o-4", order())).await;
    let error = outcome.expect_err("still running elsewhere");
    let StartError::Unavailable(reason) = &error else {
        panic!("retryable: {error:?}");
    };
    assert!(
        reason
            .to_string()
            .contains("still running in another invocation"),
        "{reason}"
    );
    running.abort();
}

#[test]
fn the_machines_tasks_are_the_apps_functions() {
    let machine = registration_machine().expect("parses");
    let mut resources = machine.task_resources();
    resources.sort_unstable();
    assert_eq!(resources, ["email", "mailing-list", "save-order"]);
}

/// Runs `scenario` on a fresh SQLite file and on a fresh PostgreSQL database.
async fn on_both<F, Fut>(scenario: F)
where
    F: Fn(Db) -> Fut + Send + Sync + Clone + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let dir = tempfile::tempdir().expect("a temporary directory");
    let db = Db::connect(&format!("sqlite://{}/t.db", dir.path().display()))
        .await
        .expect("SQLite");
    scenario(db.clone()).await;
    db.close().await;
    order_store::testing::with_fresh_database("azure_app_test", move |url| async move {
        let db = Db::connect(&url).await.expect("PostgreSQL");
        scenario(db.clone()).await;
        db.close().await;
    })
    .await;
}

#[tokio::test]
async fn redelivery_after_a_crash() {
    on_both(a_redelivery_resumes_without_a_second_email).await;
}

#[tokio::test]
async fn concurrent_deliveries() {
    on_both(two_deliveries_at_once_run_it_once).await;
}

#[tokio::test]
async fn redrives() {
    on_both(a_failed_step_is_redriven_by_an_operator).await;
}

#[tokio::test]
async fn bounded_wait() {
    on_both(a_delivery_gives_up_waiting_for_a_live_run).await;
}
