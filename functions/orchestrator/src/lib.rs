//! The orchestrator function: turns each `OrderPlaced` message into one run of the registration
//! workflow, named by the order id.
//!
//! Delivery is at-least-once, so the same order may arrive twice; a workflow name is used once,
//! so the second start starts nothing. A message that is not a valid `OrderPlaced` fails alone
//! (partial batch failure) with a terminal error, and goes to the dead-letter queue at once for
//! someone to look at: nothing is dropped silently, and nothing hopeless is retried.

use std::sync::Arc;

use async_trait::async_trait;
use clients::workflow::{StartError, StartOutcome, WorkflowStarter};
use domain::OrderPlaced;
use function_model::{ErrorType, FunctionError, Invocation, QueueFunction, QueueMessage};
use serde_json::json;
use tracing::Instrument;

pub struct Orchestrator {
    starter: Arc<dyn WorkflowStarter>,
}

impl Orchestrator {
    /// The function on `starter`, which is each host's own (Step Functions on AWS, the inline
    /// durable workflow on Azure, the emulator's local Step Functions): it reads no settings, so
    /// every host builds it with this.
    pub fn new(starter: Arc<dyn WorkflowStarter>) -> Self {
        Self { starter }
    }
}

#[async_trait]
impl QueueFunction for Orchestrator {
    async fn handle_message(
        &self,
        _invocation: &Invocation,
        message: &QueueMessage,
    ) -> Result<(), FunctionError> {
        let order = OrderPlaced::from_json(&message.body).map_err(|e| {
            FunctionError::new(
                ErrorType::InvalidMessage,
                format!("message {} is not an OrderPlaced", message.message_id),
            )
            .with_source(e)
        })?;
        let name = order.order_id.to_string();
        let span = tracing::info_span!("orchestrate", order_id = %name);
        let started = self
            .starter
            .start(&name, json!({ "order": order }))
            .instrument(span.clone())
            .await;
        let _entered = span.enter();
        match started {
            Ok(StartOutcome::Started) => {
                tracing::info!("registration workflow started");
                Ok(())
            }
            Ok(StartOutcome::AlreadyStarted) => {
                tracing::info!(
                    "duplicate delivery: the workflow for this order was already started"
                );
                Ok(())
            }
            Err(e @ StartError::Unavailable(_)) => Err(FunctionError::new(
                ErrorType::WorkflowUnavailable,
                "could not start the workflow",
            )
            .with_source(e)),
            Err(e @ StartError::Rejected(_)) => Err(FunctionError::new(
                ErrorType::WorkflowRejected,
                "the workflow start was refused",
            )
            .with_source(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, HashSet};
    use std::sync::Mutex;

    /// Names each execution once, as Step Functions does.
    #[derive(Default)]
    struct NamedExecutions(Mutex<HashSet<String>>);

    #[async_trait]
    impl WorkflowStarter for NamedExecutions {
        async fn start(
            &self,
            name: &str,
            input: serde_json::Value,
        ) -> Result<StartOutcome, StartError> {
            assert!(
                input["order"]["orderId"].is_string(),
                "the input carries the order"
            );
            Ok(if self.0.lock().expect("lock").insert(name.to_owned()) {
                StartOutcome::Started
            } else {
                StartOutcome::AlreadyStarted
            })
        }
    }

    fn message(id: &str, body: String) -> QueueMessage {
        QueueMessage {
            message_id: id.into(),
            body,
            attributes: BTreeMap::new(),
            receive_count: 1,
        }
    }

    fn invocation() -> Invocation {
        Invocation::local("orchestrator", std::time::Duration::from_secs(10), None)
    }

    fn order_json() -> String {
        include_str!("../../../shared/domain/data/order-placed.example.json").to_owned()
    }

    #[tokio::test]
    async fn duplicates_start_one_execution_and_bad_messages_are_dead_lettered_alone() {
        let executions = Arc::new(NamedExecutions::default());
        let orchestrator = Orchestrator::new(executions.clone());
        let batch = [
            message("a", order_json()),
            message("b", "{not json".into()),
            message("c", order_json()),
        ];
        let outcome = function_model::handle_batch(&orchestrator, &invocation(), &batch).await;
        assert_eq!(outcome.retry.failed_ids().count(), 0);
        let dead: Vec<_> = outcome
            .dead_letter
            .iter()
            .map(|d| (d.message_id.as_str(), d.reason))
            .collect();
        assert_eq!(dead, [("b", "InvalidMessage")], "never retried");
        assert_eq!(executions.0.lock().expect("lock").len(), 1);
    }

    #[tokio::test]
    async fn an_unavailable_workflow_service_is_retryable() {
        struct Down;
        #[async_trait]
        impl WorkflowStarter for Down {
            async fn start(
                &self,
                _: &str,
                _: serde_json::Value,
            ) -> Result<StartOutcome, StartError> {
                Err(StartError::Unavailable("connection refused".into()))
            }
        }
        let error = Orchestrator::new(Arc::new(Down))
            .handle_message(&invocation(), &message("a", order_json()))
            .await
            .expect_err("fails");
        assert_eq!(error.error_type(), ErrorType::WorkflowUnavailable);
        assert!(error.is_retryable());
    }
}
