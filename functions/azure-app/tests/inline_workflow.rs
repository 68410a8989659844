//! The registration workflow as the Azure orchestrator runs it (`azure_app::workflow`): the real
//! state machine, durable executions on SQLite and on PostgreSQL, and task functions that count
//! their calls. Each scenario is what Service Bus can do to one `OrderPlaced` message:
//! - delivered again after the invocation running it died: the execution resumes from its
//!   checkpoints, and a task that completed (the confirmation email) is not run again;
//! - delivered twice at once: the execution runs once, and both deliveries succeed;
//! - a step that fails for good: the order is written to the follow-up output, and written again
//!   by a later delivery (an output is sent only with a successful invocation).

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use azure_app::workflow::{InlineWorkflow, registration_machine};
use azure_app::{FOLLOW_UP_OUTPUT, FOLLOW_UP_QUEUE};
use clients::workflow::{StartError, StartOutcome, WorkflowStarter};
use durable::{Db, ExecutionStatus, Executions};
use function_model::azure::with_outputs;
use function_model::{ErrorType, FunctionError, Invocation, TaskFunction};
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
    assert!(outputs.is_empty(), "nothing to follow up");
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

async fn a_failed_step_is_followed_up_by_every_delivery(db: Db) {
    let mut tasks = Tasks::new();
    tasks.save_order = Arc::new(Task {
        fail: true,
        ..Arc::into_inner(tasks.save_order).expect("one owner")
    });
    let workflow = tasks.workflow(&db, Duration::from_secs(30));
    let (outcome, outputs) = with_outputs(workflow.start("o-3", order())).await;
    assert_eq!(outcome.expect("runs"), StartOutcome::Started);
    assert_eq!(
        status(&db, "o-3").await,
        ExecutionStatus::Failed {
            error: "RegistrationIncomplete".into(),
            cause:
                "A step failed after its retries; the order is on the follow-up dead-letter queue."
                    .into()
        }
    );
    let parked = &outputs[FOLLOW_UP_OUTPUT];
    assert_eq!(parked.len(), 1, "{outputs:?}");
    assert_eq!(parked[0]["step"], "save-order");
    assert_eq!(parked[0]["order"]["orderId"], order()["order"]["orderId"]);
    assert_eq!(parked[0]["failure"]["Error"], "StoreError");

    let (again, outputs_again) = with_outputs(workflow.start("o-3", order())).await;
    assert_eq!(again.expect("succeeds"), StartOutcome::AlreadyStarted);
    assert_eq!(outputs_again, outputs, "the same message, written again");
    assert_eq!(
        tasks.counts(),
        [1, 1, 1],
        "a finished execution runs nothing"
    );
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
fn the_follow_up_queue_is_the_machines() {
    let machine = registration_machine().expect("parses");
    assert!(
        machine.task_resources().iter().all(|r| [
            "save-order",
            "email",
            "mailing-list",
            "arn:aws:states:::sqs:sendMessage"
        ]
        .contains(&r.as_str())),
        "{:?}",
        machine.task_resources()
    );
    assert_eq!(FOLLOW_UP_QUEUE, "registration-followup");
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
async fn follow_ups() {
    on_both(a_failed_step_is_followed_up_by_every_delivery).await;
}

#[tokio::test]
async fn bounded_wait() {
    on_both(a_delivery_gives_up_waiting_for_a_live_run).await;
}
