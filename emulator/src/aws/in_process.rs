//! The functions as libraries in the emulator's process (`--functions in-process`): each built
//! with the constructor its Lambda binary and the Azure app use, from the settings the emulator
//! gives it (its local providers, its database), with the AWS host's own queue and Step Functions
//! in place of SQS and the Step Functions service.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use clients::publisher::{OrderPublisher, PublishError, TRACE_ATTRIBUTE};
use domain::OrderPlaced;
use durable::Queue;
use function_model::{HttpFunction, QueueFunction, TaskFunction};

use super::step_functions::LocalStarter;
use crate::functions::FunctionCrate;
use crate::state::Platform;

/// A task function of the workflow (`None` for the HTTP and queue functions).
pub(super) fn task(function: FunctionCrate, platform: &Platform) -> Option<Arc<dyn TaskFunction>> {
    let providers = &platform.providers;
    Some(match function {
        FunctionCrate::SaveOrder => Arc::new(save_order::SaveOrder::new(platform.store.clone())),
        FunctionCrate::Email => Arc::new(email::Email::from_settings(
            providers.sendgrid_config.clone(),
        )),
        FunctionCrate::MailingList => Arc::new(mailing_list::MailingList::from_settings(
            providers.mailchimp_config.clone(),
        )),
        FunctionCrate::Payment | FunctionCrate::Orchestrator => return None,
    })
}

/// The payment function, publishing on `queue` (its `REGISTRATIONS_QUEUE_URL`), with its
/// card-testing settings from `environment` (the template's, as its process would be given).
pub(super) fn payment(
    queue: Arc<Queue>,
    timeout: Duration,
    environment: &Vec<(String, String)>,
    platform: &Platform,
) -> anyhow::Result<Arc<dyn HttpFunction>> {
    let card_testing = payment::CardTesting::from_env(environment)
        .map_err(|e| anyhow::anyhow!("the payment function's settings: {e}"))?;
    Ok(Arc::new(payment::Payment::from_settings(
        payment::PaymentSettings {
            paypal: platform.providers.paypal_config.clone(),
            timeout,
            card_testing,
        },
        Arc::new(QueuePublisher(queue)),
        platform.db.clone(),
    )))
}

/// The orchestrator, starting executions on the local Step Functions.
pub(super) fn orchestrator(starter: LocalStarter) -> Arc<dyn QueueFunction> {
    Arc::new(orchestrator::Orchestrator::new(Arc::new(starter)))
}

/// Publishes orders on a local queue (what SQS or a Service Bus output does in the cloud).
struct QueuePublisher(Arc<Queue>);

#[async_trait]
impl OrderPublisher for QueuePublisher {
    async fn publish(
        &self,
        order: &OrderPlaced,
        trace_id: Option<&str>,
    ) -> Result<(), PublishError> {
        let attributes = trace_id
            .map(|trace| (TRACE_ATTRIBUTE.to_owned(), trace.to_owned()))
            .into_iter()
            .collect();
        self.0
            .send(order.to_json(), attributes, None)
            .await
            .map(drop)
            .map_err(PublishError::new)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use function_model::local_function_arn;

    use crate::aws::template::Template;
    use crate::config::workspace_template;

    /// Every Task state of `state_machine` (in Parallel branches and Map processors too), by name.
    fn task_states(state_machine: &serde_json::Value) -> Vec<(String, serde_json::Value)> {
        let mut found = Vec::new();
        let states = state_machine["States"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        for (name, state) in states {
            match state["Type"].as_str() {
                Some("Task") => found.push((name, state)),
                Some("Parallel") => {
                    for branch in state["Branches"].as_array().into_iter().flatten() {
                        found.extend(task_states(branch));
                    }
                }
                Some("Map") => {
                    found.extend(task_states(&state["ItemProcessor"]));
                    found.extend(task_states(&state["Iterator"]));
                }
                _ => {}
            }
        }
        found
    }

    /// The names a state's `Retry` or `Catch` (`which`) matches.
    fn error_equals<'a>(state: &'a serde_json::Value, which: &str) -> Vec<&'a str> {
        state[which]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|rule| rule["ErrorEquals"].as_array().into_iter().flatten())
            .filter_map(serde_json::Value::as_str)
            .collect()
    }

    /// The workflow file and the functions agree on error names: a name in a task's `ErrorEquals`
    /// is one the task raises (or a platform's: `States.*`, `Lambda.*`, `Sandbox.*`), and every
    /// retryable error a task raises is retried by its state.
    #[test]
    fn the_workflow_retries_and_catches_what_its_tasks_raise() {
        use function_model::{ErrorType, TypedTask};
        let raises: HashMap<String, &[ErrorType]> = HashMap::from([
            (
                local_function_arn("save-order"),
                <save_order::SaveOrder as TypedTask>::RAISES,
            ),
            (
                local_function_arn("email"),
                <email::Email as TypedTask>::RAISES,
            ),
            (
                local_function_arn("mailing-list"),
                <mailing_list::MailingList as TypedTask>::RAISES,
            ),
        ]);
        let topology = Template::load(&workspace_template())
            .and_then(|t| t.topology(&[], "http://127.0.0.1:3000"))
            .expect("template.yaml resolves");
        let definition: serde_json::Value =
            serde_json::from_str(&topology.state_machine.definition).expect("the workflow is JSON");
        let mut checked = 0;
        for (name, state) in task_states(&definition) {
            let Some(raised) = state["Resource"].as_str().and_then(|r| raises.get(r)) else {
                continue;
            };
            checked += 1;
            let retried = error_equals(&state, "Retry");
            for matched in retried.iter().chain(&error_equals(&state, "Catch")) {
                let platform = ["States.", "Lambda.", "Sandbox."]
                    .iter()
                    .any(|prefix| matched.starts_with(prefix));
                let raisable = *matched == ErrorType::InvalidInput.name()
                    || raised.iter().any(|t| t.name() == *matched);
                assert!(
                    platform || raisable,
                    "{name} matches {matched}, which its function never raises"
                );
            }
            for retryable in raised.iter().filter(|t| t.is_retryable()) {
                assert!(
                    retried.contains(&retryable.name()) || retried.contains(&"States.ALL"),
                    "{name} does not retry {retryable}, which its function raises as retryable"
                );
            }
        }
        assert_eq!(checked, raises.len(), "every task function has a state");
    }
}
