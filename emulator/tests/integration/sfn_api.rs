//! Step Functions' state machine operations and execution input quota, through the official
//! client: `ListStateMachines` lists the template's one machine, `DescribeStateMachine` gives its
//! definition as deployed (substitutions done), `StartExecution` refuses an input over 256 KiB
//! with the `ValidationException` Step Functions answers, and `StopExecution` aborts a running
//! execution: `ABORTED` with the error and cause given, the history ending in `ExecutionAborted`
//! (that its run ends there is `durable`'s test `a_stopped_execution_is_aborted_and_its_run_ends`);
//! `RedriveExecution` runs a failed execution again from where it failed, only its failed task,
//! with `redriveCount`, `redriveDate` and `redriveStatus` in `DescribeExecution` and
//! `ExecutionRedriven` in its history.

use aws_sdk_sfn::error::ProvideErrorMetadata;
use emulator::names::state_machine_arn;

const STATE_MACHINE: &str = "RegistrationStateMachine";

#[tokio::test]
async fn the_state_machine_is_listed_and_described_as_deployed() {
    let (emulator, _dir) = crate::support::start_emulator(|_| {}).await;
    let sfn = crate::support::client!(aws_sdk_sfn, emulator.url());
    let listed = sfn
        .list_state_machines()
        .send()
        .await
        .expect("ListStateMachines");
    let machines = listed.state_machines();
    assert_eq!(machines.len(), 1, "{machines:?}");
    assert_eq!(machines[0].name(), STATE_MACHINE);
    assert_eq!(
        machines[0].state_machine_arn(),
        state_machine_arn(STATE_MACHINE)
    );
    assert_eq!(listed.next_token(), None);

    let described = sfn
        .describe_state_machine()
        .state_machine_arn(state_machine_arn(STATE_MACHINE))
        .send()
        .await
        .expect("DescribeStateMachine");
    assert_eq!(described.name(), STATE_MACHINE);
    assert_eq!(
        described.status(),
        Some(&aws_sdk_sfn::types::StateMachineStatus::Active)
    );
    let definition: serde_json::Value =
        serde_json::from_str(described.definition()).expect("the definition is JSON");
    assert!(definition["States"].is_object(), "{definition}");
    assert!(
        !described.definition().contains("${"),
        "the template's DefinitionSubstitutions are done: {}",
        described.definition()
    );

    let missing = sfn
        .describe_state_machine()
        .state_machine_arn(state_machine_arn("Other"))
        .send()
        .await
        .expect_err("no such machine");
    assert_eq!(
        missing.into_service_error().code(),
        Some("StateMachineDoesNotExist")
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn an_execution_input_over_256_kib_is_refused() {
    let (emulator, _dir) = crate::support::start_emulator(|_| {}).await;
    let sfn = crate::support::client!(aws_sdk_sfn, emulator.url());
    let input = |size: usize| format!(r#"{{"pad":"{}"}}"#, "x".repeat(size - 10));
    let refused = sfn
        .start_execution()
        .state_machine_arn(state_machine_arn(STATE_MACHINE))
        .name("too-large")
        .input(input(262_145))
        .send()
        .await
        .expect_err("over the quota");
    let error = refused.into_service_error();
    assert_eq!(error.code(), Some("ValidationException"), "{error}");
    assert!(
        error
            .message()
            .unwrap_or_default()
            .contains("Member must have length less than or equal to 262144"),
        "{error}"
    );
    sfn.start_execution()
        .state_machine_arn(state_machine_arn(STATE_MACHINE))
        .name("at-the-quota")
        .input(input(262_144))
        .send()
        .await
        .expect("at the quota, the execution starts");
    emulator.shutdown().await;
}

#[tokio::test]
async fn malformed_arns_inputs_and_tokens_get_step_functions_errors() {
    let (emulator, _dir) = crate::support::start_emulator(|_| {}).await;
    let sfn = crate::support::client!(aws_sdk_sfn, emulator.url());
    let not_json = sfn
        .start_execution()
        .state_machine_arn(state_machine_arn(STATE_MACHINE))
        .input("not json")
        .send()
        .await
        .expect_err("the input is not JSON");
    assert_eq!(
        not_json.into_service_error().code(),
        Some("InvalidExecutionInput")
    );
    let bad_arn = sfn
        .describe_state_machine()
        .state_machine_arn("not-an-arn")
        .send()
        .await
        .expect_err("not an ARN");
    assert_eq!(bad_arn.into_service_error().code(), Some("InvalidArn"));
    let bad_token = sfn
        .list_state_machines()
        .next_token("never-given")
        .send()
        .await
        .expect_err("a token this service never gave");
    assert_eq!(bad_token.into_service_error().code(), Some("InvalidToken"));
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_execution_is_stopped_with_its_error_and_cause() {
    use aws_sdk_sfn::types::{ExecutionStatus, HistoryEventType};
    let (emulator, _dir) = crate::support::start_emulator(|_| {}).await;
    let sfn = crate::support::client!(aws_sdk_sfn, emulator.url());
    // The save-order task waits 30 s before it runs: the execution is stopped meanwhile.
    let fault = reqwest::Client::new()
        .post(format!("{}/_emulator/api/faults", emulator.url()))
        .json(&serde_json::json!({"target": "save-order", "mode": "slow", "delayMs": 30000, "times": 1}))
        .send()
        .await
        .expect("the inspector answers");
    assert_eq!(fault.status(), 201);
    let order: serde_json::Value = serde_json::from_str(include_str!(
        "../../../shared/domain/data/order-placed.example.json"
    ))
    .expect("JSON");
    let started = sfn
        .start_execution()
        .state_machine_arn(state_machine_arn(STATE_MACHINE))
        .name("to-stop")
        .input(serde_json::json!({ "order": order }).to_string())
        .send()
        .await
        .expect("StartExecution");
    let arn = started.execution_arn();

    let too_long = sfn
        .stop_execution()
        .execution_arn(arn)
        .error("x".repeat(257))
        .send()
        .await
        .expect_err("an error over 256 characters");
    assert_eq!(
        too_long.into_service_error().code(),
        Some("ValidationException")
    );
    let stopped = sfn
        .stop_execution()
        .execution_arn(arn)
        .error("Operator.Stop")
        .cause("stopped by a test")
        .send()
        .await
        .expect("StopExecution");
    let described = sfn
        .describe_execution()
        .execution_arn(arn)
        .send()
        .await
        .expect("DescribeExecution");
    assert_eq!(described.status(), &ExecutionStatus::Aborted);
    assert_eq!(described.error(), Some("Operator.Stop"));
    assert_eq!(described.cause(), Some("stopped by a test"));
    assert_eq!(described.stop_date(), Some(stopped.stop_date()));
    let again = sfn
        .stop_execution()
        .execution_arn(arn)
        .send()
        .await
        .expect("a stopped execution can be stopped again");
    assert_eq!(again.stop_date(), stopped.stop_date(), "it keeps its stop");

    let history = sfn
        .get_execution_history()
        .execution_arn(arn)
        .send()
        .await
        .expect("GetExecutionHistory");
    let kinds: Vec<&HistoryEventType> = history.events().iter().map(|e| e.r#type()).collect();
    assert_eq!(
        kinds.last(),
        Some(&&HistoryEventType::ExecutionAborted),
        "{kinds:?}"
    );
    let aborted = history.events().last().expect("an event");
    let details = aborted
        .execution_aborted_event_details()
        .expect("executionAbortedEventDetails");
    assert_eq!(details.error(), Some("Operator.Stop"));

    let listed = sfn
        .list_executions()
        .state_machine_arn(state_machine_arn(STATE_MACHINE))
        .status_filter(ExecutionStatus::Aborted)
        .send()
        .await
        .expect("ListExecutions");
    assert_eq!(listed.executions().len(), 1);
    let missing = sfn
        .stop_execution()
        .execution_arn(format!("{}-nope", arn))
        .send()
        .await
        .expect_err("no such execution");
    assert_eq!(
        missing.into_service_error().code(),
        Some("ExecutionDoesNotExist")
    );
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_execution_is_redriven_and_only_its_failed_task_runs_again() {
    use aws_sdk_sfn::types::{
        ExecutionRedriveFilter, ExecutionRedriveStatus, ExecutionStatus, HistoryEventType,
    };
    let (emulator, _dir) = crate::support::start_emulator(|_| {}).await;
    let sfn = crate::support::client!(aws_sdk_sfn, emulator.url());
    let inspector = reqwest::Client::new();
    let faults = format!("{}/_emulator/api/faults", emulator.url());
    let inject = |fault: serde_json::Value| {
        let request = inspector.post(&faults).json(&fault).send();
        async move { assert_eq!(request.await.expect("the inspector answers").status(), 201) }
    };
    // The email function fails on every try: its retries run out, the execution fails.
    inject(serde_json::json!({"target": "email", "mode": "fail"})).await;
    let order: serde_json::Value = serde_json::from_str(include_str!(
        "../../../shared/domain/data/order-placed.example.json"
    ))
    .expect("JSON");
    let arn = sfn
        .start_execution()
        .state_machine_arn(state_machine_arn(STATE_MACHINE))
        .name("to-redrive")
        .input(serde_json::json!({ "order": order }).to_string())
        .send()
        .await
        .expect("StartExecution")
        .execution_arn()
        .to_owned();
    let described_once = |status: ExecutionStatus| {
        let (sfn, arn) = (sfn.clone(), arn.clone());
        async move {
            for _ in 0..200 {
                let described = sfn
                    .describe_execution()
                    .execution_arn(&arn)
                    .send()
                    .await
                    .expect("DescribeExecution");
                if described.status() == &status {
                    return described;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            panic!("{arn} never became {status:?}");
        }
    };
    let failed = described_once(ExecutionStatus::Failed).await;
    assert_eq!(failed.error(), Some("Lambda.ServiceException"));
    assert_eq!(failed.redrive_count(), Some(0));
    assert_eq!(
        failed.redrive_status(),
        Some(&ExecutionRedriveStatus::Redrivable)
    );

    // The fault is cleared. Every task invocation asks the fault injector first: a fault armed on
    // save-order and on mailing-list that is still armed after the redrive shows they did not run.
    let cleared = inspector.delete(&faults).send().await.expect("cleared");
    assert!(cleared.status().is_success());
    for target in ["save-order", "mailing-list"] {
        inject(serde_json::json!({"target": target, "mode": "slow", "delayMs": 1, "times": 1}))
            .await;
    }
    let redriven = sfn
        .redrive_execution()
        .execution_arn(&arn)
        .send()
        .await
        .expect("RedriveExecution");
    let succeeded = described_once(ExecutionStatus::Succeeded).await;
    assert_eq!(succeeded.redrive_count(), Some(1));
    assert_eq!(succeeded.redrive_date(), Some(redriven.redrive_date()));
    assert_eq!(
        succeeded.redrive_status(),
        Some(&ExecutionRedriveStatus::NotRedrivable)
    );
    assert_eq!(
        succeeded.redrive_status_reason(),
        Some("Execution is SUCCEEDED and cannot be redriven.")
    );
    let armed: Vec<serde_json::Value> = inspector
        .get(&faults)
        .send()
        .await
        .expect("faults")
        .json()
        .await
        .expect("JSON");
    assert_eq!(armed.len(), 2, "only the email ran again: {armed:?}");

    let history = sfn
        .get_execution_history()
        .execution_arn(&arn)
        .max_results(1000)
        .send()
        .await
        .expect("GetExecutionHistory");
    let kinds: Vec<&HistoryEventType> = history.events().iter().map(|e| e.r#type()).collect();
    let at = |kind: HistoryEventType| kinds.iter().position(|k| **k == kind);
    assert!(
        at(HistoryEventType::ExecutionFailed) < at(HistoryEventType::ExecutionRedriven)
            && at(HistoryEventType::ExecutionRedriven) < at(HistoryEventType::ExecutionSucceeded),
        "the failed run, its redrive, then the rest: {kinds:?}"
    );
    let redrive_event = &history.events()[at(HistoryEventType::ExecutionRedriven).expect("one")];
    assert_eq!(
        redrive_event
            .execution_redriven_event_details()
            .map(|details| details.redrive_count()),
        Some(Some(1))
    );

    let again = sfn
        .redrive_execution()
        .execution_arn(&arn)
        .send()
        .await
        .expect_err("a succeeded execution is not redriven");
    assert_eq!(
        again.into_service_error().code(),
        Some("ExecutionNotRedrivable")
    );
    let listed = sfn
        .list_executions()
        .state_machine_arn(state_machine_arn(STATE_MACHINE))
        .redrive_filter(ExecutionRedriveFilter::Redriven)
        .send()
        .await
        .expect("ListExecutions");
    assert_eq!(listed.executions().len(), 1);
    assert_eq!(listed.executions()[0].redrive_count(), Some(1));
    emulator.shutdown().await;
}
