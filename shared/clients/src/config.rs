//! Reading provider settings from the environment, once, at start-up, with errors that name the
//! variable. Secrets are read into `SecretString`s and never printed.

#[cfg(feature = "http")]
use std::time::Duration;

#[cfg(feature = "http")]
use secrecy::SecretString;

/// A setting that is missing or unusable. The message names the variable, never its value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{0} is not set")]
    Missing(&'static str),
    #[error("{variable} is not valid: {reason}")]
    Invalid {
        variable: &'static str,
        reason: String,
    },
}

/// Where settings come from: the process environment, or a map in tests.
pub trait Env {
    fn var(&self, name: &str) -> Option<String>;
}

/// The process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.trim().is_empty())
    }
}

impl<const N: usize> Env for [(&str, &str); N] {
    fn var(&self, name: &str) -> Option<String> {
        self.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
    }
}

/// A variable that must be set (and not blank).
pub fn required(env: &dyn Env, name: &'static str) -> Result<String, ConfigError> {
    env.var(name).ok_or(ConfigError::Missing(name))
}

/// Variables as a process is given them (`to_env` of the provider configurations).
impl Env for Vec<(&'static str, String)> {
    fn var(&self, name: &str) -> Option<String> {
        self.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
    }
}

/// Variables as a template resolves them (the emulator's view of a function's environment).
impl Env for Vec<(String, String)> {
    fn var(&self, name: &str) -> Option<String> {
        self.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }
}

#[cfg(feature = "http")]
pub(crate) fn secret(env: &dyn Env, name: &'static str) -> Result<SecretString, ConfigError> {
    required(env, name).map(SecretString::from)
}

/// A base URL: `http(s)://…`, kept without its trailing slash.
#[cfg(feature = "http")]
pub(crate) fn base_url(env: &dyn Env, name: &'static str) -> Result<Option<String>, ConfigError> {
    env.var(name)
        .map(|url| {
            if url.starts_with("http://") || url.starts_with("https://") {
                Ok(url.trim_end_matches('/').to_owned())
            } else {
                Err(ConfigError::Invalid {
                    variable: name,
                    reason: "must start with http:// or https://".into(),
                })
            }
        })
        .transpose()
}

/// A duration in milliseconds, or `default` when unset.
#[cfg(feature = "http")]
pub fn millis(
    env: &dyn Env,
    name: &'static str,
    default: Duration,
) -> Result<Duration, ConfigError> {
    match env.var(name) {
        None => Ok(default),
        Some(raw) => {
            raw.parse::<u64>()
                .map(Duration::from_millis)
                .map_err(|_| ConfigError::Invalid {
                    variable: name,
                    reason: "must be a whole number of milliseconds".into(),
                })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_missing_and_invalid_variables() {
        let env = [("URL", "ftp://x"), ("MS", "soon")];
        assert_eq!(required(&env, "NOPE"), Err(ConfigError::Missing("NOPE")));
        assert_eq!(
            required(&env, "NOPE").expect_err("missing").to_string(),
            "NOPE is not set"
        );
        assert!(matches!(
            base_url(&env, "URL"),
            Err(ConfigError::Invalid {
                variable: "URL",
                ..
            })
        ));
        assert!(matches!(
            millis(&env, "MS", Duration::ZERO),
            Err(ConfigError::Invalid { variable: "MS", .. })
        ));
        assert_eq!(
            millis(&env, "UNSET", Duration::from_secs(1)),
            Ok(Duration::from_secs(1))
        );
        let env = [("URL", "https://api-m.sandbox.paypal.com/")];
        assert_eq!(
            base_url(&env, "URL"),
            Ok(Some("https://api-m.sandbox.paypal.com".into()))
        );
    }
}
