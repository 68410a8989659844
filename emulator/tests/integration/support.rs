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
