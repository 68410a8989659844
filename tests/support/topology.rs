//! The same tests run on either cloud's topology, and with the functions in-process or as their
//! binaries: environment variables choose (`E2E_CLOUD`, `E2E_FUNCTIONS`), this module sets the
//! emulator up for the choice, and names the queues of the chosen topology for the tests.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::OnceLock;

/// Whether the emulator runs the Azure Function App (`E2E_CLOUD=azure`: `infra/azure`, its custom
/// handler under the emulator's Functions host) instead of the SAM template (`aws`, the default).
pub fn azure() -> bool {
    match std::env::var("E2E_CLOUD").as_deref() {
        Err(_) | Ok("aws") => false,
        Ok("azure") => true,
        Ok(other) => panic!("E2E_CLOUD={other:?}: use aws or azure"),
    }
}

/// The registration workflow's states (`infra/statemachine/registration.asl.json`), the same on
/// every topology: the Parallel state and its three tasks.
pub const REGISTRATION_STATES: [&str; 4] = [
    "Register",
    "SaveOrder",
    "SendConfirmation",
    "AddToMailingList",
];

/// The queues of the topology under test, by their role.
pub struct QueueNames {
    /// Where the payment puts the order, and the orchestrator takes it.
    pub registrations: &'static str,
    /// Where the registrations queue's hopeless messages end.
    pub registrations_dead_letters: &'static str,
}

/// The queues' names on the topology under test (see [`azure`]).
pub fn queues() -> QueueNames {
    if azure() {
        QueueNames {
            registrations: "registrations",
            registrations_dead_letters: "registrations/$DeadLetterQueue",
        }
    } else {
        QueueNames {
            registrations: "RegistrationsQueue",
            registrations_dead_letters: "RegistrationsDeadLetterQueue",
        }
    }
}

/// Whether the functions run as their binaries under the Lambda Runtime API (the AWS topology
/// with `E2E_FUNCTIONS=process`).
pub fn process_mode() -> bool {
    !azure() && std::env::var("E2E_FUNCTIONS").as_deref() == Ok("process")
}

/// The binaries, built with cargo once per test binary.
fn binaries() -> HashMap<String, PathBuf> {
    static BINARIES: OnceLock<HashMap<String, PathBuf>> = OnceLock::new();
    BINARIES
        .get_or_init(|| emulator::functions::build_binaries().expect("the function binaries build"))
        .clone()
}

/// How the emulator runs the functions: the Azure Function App's handler (`E2E_CLOUD=azure`),
/// or on the AWS topology in-process, or with `E2E_FUNCTIONS=process` as their binaries under the
/// Lambda Runtime API.
pub(crate) fn configure(config: &mut emulator::Config) {
    if azure() {
        let mut binaries = binaries();
        config.cloud = emulator::Cloud::Azure(emulator::AzureConfig {
            app_dir: emulator::azure::app::workspace_app(),
            handler: binaries.remove("handler").expect("the handler was built"),
        });
        return;
    }
    config.functions = match std::env::var("E2E_FUNCTIONS").as_deref() {
        Err(_) | Ok("in-process") => emulator::Functions::InProcess,
        Ok("process") => emulator::Functions::Process(binaries()),
        Ok(other) => panic!("E2E_FUNCTIONS={other:?}: use in-process or process"),
    };
}
