//! The local providers as the functions reach them: the three servers, started with fresh
//! credentials at every start, and the client settings that point the functions at them under
//! `{emulator}/_providers/…` (or at the real services, when [`Providers`] names them).

use std::sync::Arc;
use std::time::Duration;

use clients::mailchimp::{MailchimpConfig, StatusIfNew};
use clients::paypal::PayPalConfig;
use clients::sendgrid::SendGridConfig;

use super::faults::Faults;
use super::mailchimp::MailchimpFake;
use super::paypal::{PayPalCredentials, PayPalFake};
use super::records::Records;
use super::sendgrid::SendGridFake;
use crate::config::{Config, Providers};

/// The local providers, and the client settings that point at them (or at the real services).
pub(crate) struct LocalProviders {
    pub(crate) paypal: Arc<PayPalFake>,
    pub(crate) sendgrid: Arc<SendGridFake>,
    pub(crate) mailchimp: Arc<MailchimpFake>,
    pub(crate) paypal_config: PayPalConfig,
    pub(crate) sendgrid_config: SendGridConfig,
    pub(crate) mailchimp_config: MailchimpConfig,
}

impl LocalProviders {
    /// Fresh credentials per start; the clients reach the fakes at `{base}/paypal`, ….
    pub(crate) fn new(
        config: &Config,
        base: &str,
        conference: &str,
        faults: &Arc<Faults>,
        records: &Records,
    ) -> anyhow::Result<Self> {
        let secret = || uuid::Uuid::new_v4().simple().to_string();
        let credentials = PayPalCredentials {
            client_id: "emulator".into(),
            client_secret: secret(),
        };
        let sendgrid_key = secret();
        let (mailchimp_key, list_id) = (format!("{}-local", secret()), "registrations".to_owned());
        let timeout = Duration::from_secs(10);
        let providers: &Providers = &config.providers;
        Ok(Self {
            paypal_config: providers.paypal.clone().unwrap_or_else(|| PayPalConfig {
                base_url: format!("{base}/paypal"),
                client_id: credentials.client_id.clone(),
                client_secret: credentials.client_secret.clone().into(),
                request_timeout: PayPalConfig::DEFAULT_REQUEST_TIMEOUT,
                deadline: config.paypal_deadline,
            }),
            sendgrid_config: match &providers.sendgrid {
                Some(real) => real.clone(),
                None => SendGridConfig {
                    base_url: format!("{base}/sendgrid"),
                    api_key: sendgrid_key.clone().into(),
                    from: domain::EmailAddress::parse("registrations@conference.localhost")?,
                    from_name: Some(conference.to_owned()),
                    sandbox_mode: false,
                    timeout,
                },
            },
            mailchimp_config: providers
                .mailchimp
                .clone()
                .unwrap_or_else(|| MailchimpConfig {
                    base_url: format!("{base}/mailchimp"),
                    api_key: mailchimp_key.clone().into(),
                    list_id: list_id.clone(),
                    status_if_new: StatusIfNew::Subscribed,
                    timeout,
                }),
            paypal: PayPalFake::new(credentials, faults.clone(), records.clone()),
            sendgrid: SendGridFake::new(sendgrid_key, faults.clone(), records.clone()),
            mailchimp: MailchimpFake::new(mailchimp_key, list_id, faults.clone(), records.clone()),
        })
    }
}
