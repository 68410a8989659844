//! The mailing-list task: adds the attendee to the organiser's audience, only with their consent.
//! Without consent it records that it skipped them. The provider's member `PUT` is an upsert, so
//! a retry adds no one twice.
//!
//! Every host builds the function the same way, with [`MailingList::from_settings`]: the Lambda
//! binary (`main.rs`), the Azure Function App (`functions/azure-app`) and the emulator.

use std::sync::Arc;

use async_trait::async_trait;
use clients::audience::{Audience, AudienceError, Member};
use clients::mailchimp::{MailchimpClient, MailchimpConfig};
use domain::OrderPlaced;
use function_model::{ErrorType, FunctionError, Invocation, TypedTask};
use serde_json::{Value, json};

/// The mailing-list function and the audience it adds attendees to.
pub struct MailingList {
    audience: Arc<dyn Audience>,
}

impl MailingList {
    /// The function as every host runs it: the audience is Mailchimp's, with `mailchimp` (read
    /// with `MailchimpConfig::from_env`, or the emulator's local Mailchimp).
    pub fn from_settings(mailchimp: MailchimpConfig) -> Self {
        Self::new(Arc::new(MailchimpClient::new(mailchimp)))
    }

    /// The function with any audience, for tests with a stand-in; the hosts call
    /// [`MailingList::from_settings`].
    pub(crate) fn new(audience: Arc<dyn Audience>) -> Self {
        Self { audience }
    }
}

#[async_trait]
impl TypedTask for MailingList {
    type Input = OrderPlaced;
    type Output = Value;
    const RAISES: &'static [ErrorType] =
        &[ErrorType::ProviderUnavailable, ErrorType::MemberRejected];

    async fn run(
        &self,
        _invocation: &Invocation,
        order: OrderPlaced,
    ) -> Result<Value, FunctionError> {
        if !order.newsletter {
            tracing::info!(order_id = %order.order_id, "no newsletter consent: not added to the audience");
            return Ok(json!({ "subscribed": false, "skipped": "no consent" }));
        }
        let attendee = order.attendee;
        let member = Member {
            email: attendee.email,
            first_name: attendee.first_name,
            last_name: attendee.last_name,
        };
        self.audience
            .upsert_member(&member)
            .await
            .map_err(|e| match e {
                AudienceError::Unavailable(_) => FunctionError::new(
                    ErrorType::ProviderUnavailable,
                    "the mailing-list provider is unavailable",
                )
                .with_source(e),
                AudienceError::Rejected(_) => FunctionError::new(
                    ErrorType::MemberRejected,
                    "the mailing-list provider refused the member",
                )
                .with_source(e),
            })?;
        tracing::info!(order_id = %order.order_id, "added to the audience");
        Ok(json!({ "subscribed": true }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use function_model::TaskFunction;

    fn invocation() -> Invocation {
        Invocation::local("task", std::time::Duration::from_secs(10), None)
    }
    use std::sync::Mutex;

    #[derive(Default)]
    struct Members(Mutex<Vec<String>>);

    #[async_trait]
    impl Audience for Members {
        async fn upsert_member(&self, member: &Member) -> Result<(), AudienceError> {
            self.0.lock().expect("lock").push(member.email.to_string());
            Ok(())
        }
    }

    fn order(newsletter: bool) -> Value {
        let mut order: Value = serde_json::from_str(include_str!(
            "../../../shared/domain/data/order-placed.example.json"
        ))
        .expect("JSON");
        order["newsletter"] = json!(newsletter);
        order
    }

    #[tokio::test]
    async fn adds_only_with_consent() {
        let members = Arc::new(Members::default());
        let task = MailingList::new(members.clone());
        assert_eq!(
            task.handle(&invocation(), order(false)).await.expect("ok")["skipped"],
            "no consent"
        );
        assert!(members.0.lock().expect("lock").is_empty());
        assert_eq!(
            task.handle(&invocation(), order(true)).await.expect("ok")["subscribed"],
            true
        );
        assert_eq!(*members.0.lock().expect("lock"), ["ada@example.org"]);
    }
}
