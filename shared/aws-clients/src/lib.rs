//! The ports of the `clients` crate on AWS, through the official SDK: the order publisher on SQS
//! ([`sqs::SqsPublisher`], feature `sqs`) and the workflow starter on Step Functions
//! ([`sfn::StepFunctionsStarter`], feature `sfn`).
//!
//! The SDK clients are configured from the variables Lambda sets ([`AwsSettings`]): the region,
//! the function role's credentials, and the SDKs' standard endpoint settings, `AWS_ENDPOINT_URL`
//! or the per-service `AWS_ENDPOINT_URL_SQS`, `AWS_ENDPOINT_URL_SFN`, which point a binary at
//! another endpoint, such as the emulator's, with no change to the code. Not through
//! `aws-config`: its credential chain (profiles, IMDS, SSO, web identity through STS) is of no
//! use on Lambda, and its code (with a second SDK client, STS) would be in every zip.
//!
//! Errors keep the ports' verdict: throttling, a 5xx or a connection that failed is `Unavailable`
//! (a retry can help), anything else the service refused is `Rejected`.

#[cfg(feature = "sfn")]
pub mod sfn;
#[cfg(feature = "sqs")]
pub mod sqs;

use clients::config::{ConfigError, Env, required};

/// The region, credentials and endpoints the SDK clients use, read from the environment as the
/// AWS SDKs read them. Not `Debug`: it holds the secret key.
#[derive(Clone)]
#[cfg_attr(not(any(feature = "sqs", feature = "sfn")), allow(dead_code))]
pub struct AwsSettings {
    region: String,
    access_key_id: String,
    secret_access_key: String,
    session_token: Option<String>,
    /// `AWS_ENDPOINT_URL`, and the per-service ones by service id (`SQS`, `SFN`).
    endpoint_url: Option<String>,
    service_endpoint_urls: Vec<(&'static str, String)>,
}

/// The services whose `AWS_ENDPOINT_URL_{id}` is read.
const SERVICE_IDS: [&str; 2] = ["SQS", "SFN"];

impl AwsSettings {
    /// `AWS_REGION` (or `AWS_DEFAULT_REGION`), `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
    /// `AWS_SESSION_TOKEN` if set, and the endpoint settings. Lambda sets all but the endpoints.
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        let set = |name: &str| env.var(name).filter(|value| !value.is_empty());
        Ok(Self {
            region: set("AWS_REGION")
                .or_else(|| set("AWS_DEFAULT_REGION"))
                .ok_or(ConfigError::Missing("AWS_REGION"))?,
            access_key_id: required(env, "AWS_ACCESS_KEY_ID")?,
            secret_access_key: required(env, "AWS_SECRET_ACCESS_KEY")?,
            session_token: set("AWS_SESSION_TOKEN"),
            endpoint_url: set("AWS_ENDPOINT_URL"),
            service_endpoint_urls: SERVICE_IDS
                .iter()
                .filter_map(|id| set(&format!("AWS_ENDPOINT_URL_{id}")).map(|url| (*id, url)))
                .collect(),
        })
    }

    /// Where the service `service_id` is reached: its own endpoint setting, else the general
    /// one, else (`None`) AWS's endpoint for the region.
    #[cfg_attr(not(any(feature = "sqs", feature = "sfn")), allow(dead_code))]
    fn endpoint_url(&self, service_id: &str) -> Option<String> {
        self.service_endpoint_urls
            .iter()
            .find(|(id, _)| *id == service_id)
            .map(|(_, url)| url.clone())
            .or_else(|| self.endpoint_url.clone())
    }
}

/// A service's SDK configuration from the settings: the same lines for each service's own
/// builder type.
#[cfg_attr(not(any(feature = "sqs", feature = "sfn")), allow(unused_macros))]
macro_rules! service_config {
    ($service:ident, $id:literal, $settings:expr) => {{
        let settings: &$crate::AwsSettings = $settings;
        let mut builder = $service::Config::builder()
            .behavior_version($service::config::BehaviorVersion::latest())
            .region($service::config::Region::new(settings.region.clone()))
            .credentials_provider($service::config::Credentials::new(
                settings.access_key_id.clone(),
                settings.secret_access_key.clone(),
                settings.session_token.clone(),
                None,
                "environment",
            ));
        builder.set_endpoint_url(settings.endpoint_url($id));
        builder.build()
    }};
}
#[cfg_attr(not(any(feature = "sqs", feature = "sfn")), allow(unused_imports))]
use service_config;

/// Whether a failed call may succeed if made again: no answer at all (a connection, a timeout,
/// an unreadable response), a 5xx or 429, or a throttling error code. A request the SDK could not
/// build (`constructed == false`) never will.
#[cfg_attr(not(any(feature = "sqs", feature = "sfn")), allow(dead_code))]
fn is_transient(constructed: bool, status: Option<u16>, code: Option<&str>) -> bool {
    const THROTTLING: [&str; 4] = [
        "ThrottlingException",
        "Throttling",
        "RequestThrottled",
        "TooManyRequestsException",
    ];
    if !constructed {
        return false;
    }
    match status {
        None => true,
        Some(status) => {
            status >= 500 || status == 429 || code.is_some_and(|c| THROTTLING.contains(&c))
        }
    }
}

/// A call that the SDK could not make or that the service refused, with the SDK's error (its
/// code, message or connection failure) as the source.
#[derive(Debug, thiserror::Error)]
#[error("{operation} failed")]
pub struct CallError {
    operation: &'static str,
    #[source]
    source: Box<dyn std::error::Error + Send + Sync>,
}

impl CallError {
    #[cfg_attr(not(any(feature = "sqs", feature = "sfn")), allow(dead_code))]
    fn new(
        operation: &'static str,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self {
            operation,
            source: source.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{AwsSettings, is_transient};
    use clients::config::ConfigError;

    fn settings(pairs: &[(&'static str, &str)]) -> Result<AwsSettings, ConfigError> {
        let env: Vec<(&'static str, String)> =
            pairs.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
        AwsSettings::from_env(&env)
    }

    const LAMBDA: [(&str, &str); 4] = [
        ("AWS_REGION", "eu-west-1"),
        ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
        ("AWS_SECRET_ACCESS_KEY", "secret"),
        ("AWS_SESSION_TOKEN", "token"),
    ];

    #[test]
    fn a_service_endpoint_setting_wins_over_the_general_one() {
        let aws = settings(&LAMBDA).expect("Lambda's variables suffice");
        assert_eq!(aws.region, "eu-west-1");
        assert_eq!(aws.session_token.as_deref(), Some("token"));
        assert_eq!(aws.endpoint_url("SQS"), None, "AWS's own endpoint");

        let general = [("AWS_ENDPOINT_URL", "http://127.0.0.1:3000")];
        let aws = settings(&[&LAMBDA[..], &general].concat()).expect("settings");
        assert_eq!(
            aws.endpoint_url("SFN").as_deref(),
            Some("http://127.0.0.1:3000")
        );

        let sqs = [("AWS_ENDPOINT_URL_SQS", "http://127.0.0.1:4000")];
        let aws = settings(&[&LAMBDA[..], &general, &sqs].concat()).expect("settings");
        assert_eq!(
            aws.endpoint_url("SQS").as_deref(),
            Some("http://127.0.0.1:4000")
        );
        assert_eq!(
            aws.endpoint_url("SFN").as_deref(),
            Some("http://127.0.0.1:3000")
        );
    }

    #[test]
    fn missing_credentials_or_region_are_named() {
        let no_region = settings(&LAMBDA[1..]).err().map(|e| e.to_string());
        assert_eq!(no_region.as_deref(), Some("AWS_REGION is not set"));
        let default_region = [("AWS_DEFAULT_REGION", "us-west-2")];
        assert!(settings(&[&LAMBDA[1..], &default_region].concat()).is_ok());
        let no_key = settings(&[LAMBDA[0], LAMBDA[2]])
            .err()
            .map(|e| e.to_string());
        assert_eq!(no_key.as_deref(), Some("AWS_ACCESS_KEY_ID is not set"));
    }

    #[test]
    fn only_what_a_retry_can_fix_is_transient() {
        assert!(is_transient(true, None, None), "no answer");
        assert!(is_transient(true, Some(503), None));
        assert!(is_transient(true, Some(429), None));
        assert!(is_transient(true, Some(400), Some("ThrottlingException")));
        assert!(!is_transient(
            true,
            Some(400),
            Some("InvalidParameterValue")
        ));
        assert!(!is_transient(true, Some(403), Some("AccessDenied")));
        assert!(
            !is_transient(false, None, None),
            "a request that could not be built"
        );
    }
}
