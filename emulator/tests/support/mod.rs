//! What several of the emulator's test files share: the AWS SDK's settings that reach an
//! emulator, and writing a custom runtime's `bootstrap`.

#![allow(dead_code)] // Each test file uses part of it.

use std::path::Path;

/// The SDK's settings for the emulator at `endpoint`, as a deployed binary would have them with
/// `AWS_ENDPOINT_URL`: any region and credentials.
pub async fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_sqs::config::Credentials::new(
            "test", "test", None, None, "tests",
        ))
        .load()
        .await
}

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
