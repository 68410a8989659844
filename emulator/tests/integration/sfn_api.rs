//! Step Functions' state machine operations and execution input quota, through the official
//! client: `ListStateMachines` lists the template's one machine, `DescribeStateMachine` gives its
//! definition as deployed (substitutions done), and `StartExecution` refuses an input over
//! 256 KiB with the `ValidationException` Step Functions answers.

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
