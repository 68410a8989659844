//! The email task: renders the registration confirmation (HTML and plain text, with tera) and
//! sends it through the email provider.
//!
//! The templates are compiled into the binary, so nothing needs to be deployed beside it. The HTML
//! template is autoescaped (an attendee may call themselves `<b>Ada</b>`); the text one is not.
//!
//! Every host builds the function the same way, with [`Email::from_settings`]: the Lambda binary
//! (`main.rs`), the Azure Function App (`functions/azure-app`) and the emulator.

use std::sync::Arc;

use async_trait::async_trait;
use clients::email::{EmailSender, OutgoingEmail, SendError};
use clients::sendgrid::{SendGridClient, SendGridConfig};
use domain::{OrderPlaced, TicketCatalogue};
use function_model::{ErrorType, FunctionError, Invocation, TypedTask};
use serde_json::{Value, json};
use tera::{Context, Tera};

const HTML: &str = "confirmation.html";
const TEXT: &str = "confirmation.txt";

/// The confirmation templates, parsed once.
pub struct Confirmation {
    tera: Tera,
    conference: String,
}

impl Confirmation {
    pub fn new(conference: impl Into<String>) -> Self {
        let mut tera = Tera::default();
        tera.add_raw_templates([
            (HTML, include_str!("../templates/confirmation.html")),
            (TEXT, include_str!("../templates/confirmation.txt")),
        ])
        .expect("the confirmation templates parse: checked by the unit tests");
        Self {
            tera,
            conference: conference.into(),
        }
    }

    /// Renders the email for an order.
    pub fn render(&self, order: &OrderPlaced) -> Result<OutgoingEmail, tera::Error> {
        let attendee = &order.attendee;
        let subject = format!(
            "You're registered for {}: {}",
            self.conference, order.ticket.name
        );
        let mut context = Context::new();
        context.insert("subject", &subject);
        context.insert("conference", &self.conference);
        context.insert("registration_id", &order.order_id.to_string());
        context.insert("first_name", attendee.first_name.as_str());
        context.insert("last_name", attendee.last_name.as_str());
        context.insert(
            "organization",
            &attendee.organization.as_ref().map(|o| o.as_str()),
        );
        context.insert("ticket", &order.ticket.name);
        context.insert("amount", &order.amount.to_string());
        Ok(OutgoingEmail {
            to: attendee.email.clone(),
            to_name: format!("{} {}", attendee.first_name, attendee.last_name),
            subject,
            html: self.tera.render(HTML, &context)?,
            text: self.tera.render(TEXT, &context)?,
            order_id: order.order_id,
        })
    }
}

/// The email function and the dependencies it is built with.
pub struct Email {
    confirmation: Confirmation,
    sender: Arc<dyn EmailSender>,
}

impl Email {
    /// The function as every host runs it: the confirmation names the built-in catalogue's
    /// conference, and is sent through SendGrid with `sendgrid` (read with
    /// `SendGridConfig::from_env`, or the emulator's local SendGrid).
    pub fn from_settings(sendgrid: SendGridConfig) -> Self {
        Self::new(
            Confirmation::new(TicketCatalogue::builtin().conference),
            Arc::new(SendGridClient::new(sendgrid)),
        )
    }

    /// The function with any sender, for tests with a stand-in; the hosts call
    /// [`Email::from_settings`].
    pub(crate) fn new(confirmation: Confirmation, sender: Arc<dyn EmailSender>) -> Self {
        Self {
            confirmation,
            sender,
        }
    }
}

#[async_trait]
impl TypedTask for Email {
    type Input = OrderPlaced;
    type Output = Value;
    const RAISES: &'static [ErrorType] = &[
        ErrorType::TemplateError,
        ErrorType::ProviderUnavailable,
        ErrorType::EmailRejected,
    ];

    async fn run(
        &self,
        _invocation: &Invocation,
        order: OrderPlaced,
    ) -> Result<Value, FunctionError> {
        let email = self.confirmation.render(&order).map_err(|e| {
            FunctionError::new(ErrorType::TemplateError, "the confirmation did not render")
                .with_source(e)
        })?;
        self.sender.send(&email).await.map_err(|e| match e {
            SendError::Unavailable(_) => FunctionError::new(
                ErrorType::ProviderUnavailable,
                "the email provider is unavailable",
            )
            .with_source(e),
            SendError::Rejected(_) => FunctionError::new(
                ErrorType::EmailRejected,
                "the email provider refused the message",
            )
            .with_source(e),
        })?;
        tracing::info!(order_id = %order.order_id, "confirmation email sent");
        Ok(json!({ "sent": true }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn order(first_name: &str) -> OrderPlaced {
        let mut order: Value = serde_json::from_str(include_str!(
            "../../../shared/domain/data/order-placed.example.json"
        ))
        .expect("JSON");
        order["attendee"]["firstName"] = json!(first_name);
        order["attendee"]["organization"] = json!("AE & Co");
        OrderPlaced::from_value(order).expect("valid order")
    }

    /// Compares `actual` with `snapshots/<name>`; `UPDATE_SNAPSHOTS=1` rewrites the file instead,
    /// for a change that is meant (review the diff).
    fn assert_snapshot(name: &str, actual: &str) {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("snapshots")
            .join(name);
        if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
            std::fs::write(&path, actual).expect("snapshot written");
            return;
        }
        let expected = std::fs::read_to_string(&path)
            .expect("snapshot exists (UPDATE_SNAPSHOTS=1 creates it)");
        assert!(
            actual == expected,
            "{name} changed; if that is meant, rerun with UPDATE_SNAPSHOTS=1\n{actual}"
        );
    }

    #[test]
    fn renders_both_bodies_naming_the_attendee_registration_ticket_and_amount() {
        let email = Confirmation::new("RustConf")
            .render(&order("Ada"))
            .expect("renders");
        assert_eq!(
            email.subject,
            "You're registered for RustConf: Conference pass"
        );
        assert_eq!(email.to.as_str(), "ada@example.org");
        assert_eq!(email.to_name, "Ada Lovelace");
        assert_snapshot("confirmation.html", &email.html);
        assert_snapshot("confirmation.txt", &email.text);
    }

    #[test]
    fn html_escapes_what_the_attendee_typed() {
        let email = Confirmation::new("RustConf")
            .render(&order("<b>Ada</b>"))
            .expect("renders");
        assert_snapshot("confirmation-html-in-name.html", &email.html);
        assert!(!email.html.contains("<b>Ada</b>"), "{}", email.html);
        assert!(
            email.text.contains("<b>Ada</b>"),
            "plain text is not escaped"
        );
    }
}
