//! What several of the emulator's test files share: the AWS SDK's clients that reach an
//! emulator, and writing a custom runtime's `bootstrap`.

use std::path::Path;

/// An official SDK client (`aws_sdk_sqs`, `aws_sdk_sfn`, `aws_sdk_lambda`) for the emulator at
/// `endpoint`, as a deployed binary has it with `AWS_ENDPOINT_URL`: any region and credentials.
/// Each service's own config builder, as `aws_clients` builds them, not `aws-config` (whose
/// test-only features would make `cargo test` rebuild the SDKs that `cargo run` built).
macro_rules! client {
    ($service:ident, $endpoint:expr) => {
        $service::Client::from_conf(
            $service::Config::builder()
                .behavior_version($service::config::BehaviorVersion::latest())
                .region($service::config::Region::new("us-east-1"))
                .credentials_provider($service::config::Credentials::new(
                    "test", "test", None, None, "tests",
                ))
                .endpoint_url($endpoint)
                .build(),
        )
    };
}
pub(crate) use client;

/// Writes `script` to `path`, executable.
pub fn write_executable(path: &Path, script: &str) {
    std::fs::write(path, script).expect("the script is written");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
            .expect("the script is executable");
    }
}

/// An emulator of the workspace's template, its functions in-process, on a SQLite file of its
/// own (kept as long as the returned folder), with `configure` applied to its settings last.
pub async fn start_emulator(
    configure: impl FnOnce(&mut emulator::Config),
) -> (emulator::RunningEmulator, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut config = emulator::Config::new(format!(
        "sqlite://{}",
        dir.path().join("emulator.db").display()
    ));
    configure(&mut config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port");
    let emulator = emulator::start(config, listener)
        .await
        .expect("the emulator starts");
    (emulator, dir)
}
