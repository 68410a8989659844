//! A registration, from the request to the answer: read the request, claim its
//! `Idempotency-Key`, charge the card (within the card-testing limits), publish the paid order and
//! record the answer. The order of
//! these steps is what makes a retry safe (the crate's header says why), so it is written out here
//! in one place, step by step; what a record holds is in `idempotency.rs`, the charge in
//! `charge.rs`, the answers in `responses.rs`.

use chrono::Utc;
use clients::declines::Limit;
use clients::idempotency::{Claim, IdempotencyKey, RecordedAnswer};
use domain::{OrderId, OrderPlaced, Registration};
use function_model::{HttpRequest, HttpResponse, Invocation};
use tracing::Instrument;

use crate::client_address::client_address;
use crate::idempotency::{self, fingerprint, recorded, replayed};
use crate::{MAX_BODY_BYTES, Payment, responses};

impl Payment {
    /// `POST /api/registrations`: the request is checked (size, media type, JSON, key, fields,
    /// in that order, each with an answer that says what is wrong), then registered with or
    /// without its key.
    pub(crate) async fn register(
        &self,
        invocation: &Invocation,
        request: &HttpRequest,
    ) -> HttpResponse {
        if request.body.len() > MAX_BODY_BYTES {
            return responses::too_large(MAX_BODY_BYTES);
        }
        if !function_model::is_json(&request.headers) {
            return responses::not_json_media_type();
        }
        let body: serde_json::Value = match serde_json::from_slice(&request.body) {
            Ok(body) => body,
            Err(e) => return responses::invalid_json(&e),
        };
        let key = match idempotency::key(request) {
            Ok(key) => key,
            Err(reason) => return responses::unusable_key(reason),
        };
        let registration =
            match Registration::parse(&body, &self.catalogue, Utc::now().date_naive()) {
                Ok(registration) => registration,
                Err(errors) => return responses::field_errors_response(&errors),
            };
        let order_id = key.as_ref().map_or_else(OrderId::random, |k| {
            OrderId::for_idempotency_key(k.as_str())
        });
        let client = client_address(request, self.card_testing.origin_secret.as_deref());
        let limits = self.card_testing.limits(client, &registration);
        let span = tracing::info_span!("registration", order_id = %order_id);
        match key {
            None => {
                self.register_without_key(invocation, order_id, registration, &limits)
                    .instrument(span)
                    .await
            }
            Some(key) => {
                self.register_with_key(invocation, &key, &body, order_id, registration, &limits)
                    .instrument(span)
                    .await
            }
        }
    }

    /// Without a key there is nothing to record: charged, published, answered.
    async fn register_without_key(
        &self,
        invocation: &Invocation,
        order_id: OrderId,
        registration: Registration,
        limits: &[Limit],
    ) -> HttpResponse {
        match self
            .charge(invocation, order_id, registration, limits)
            .await
        {
            Ok(order) => match self.publish(invocation, &order).await {
                Ok(()) => responses::registered(&order),
                Err(not_published) => not_published,
            },
            Err(refused) => refused,
        }
    }

    /// With a key, the key is claimed first: only a new claim goes on to charge; a key already
    /// answered gets its answer again, and a key in use or used for another body a conflict.
    async fn register_with_key(
        &self,
        invocation: &Invocation,
        key: &IdempotencyKey,
        body: &serde_json::Value,
        order_id: OrderId,
        registration: Registration,
        limits: &[Limit],
    ) -> HttpResponse {
        let claim = match self
            .idempotency
            .claim(key, fingerprint(body), self.timeout)
            .await
        {
            Ok(claim) => claim,
            Err(e) => {
                tracing::error!("{}", function_model::chain(&e));
                return responses::records_unavailable();
            }
        };
        match claim {
            Claim::New => {
                self.charge_and_record(invocation, key, order_id, registration, limits)
                    .await
            }
            Claim::Replay(answer) => self.replay(invocation, answer).await,
            Claim::Mismatch => responses::key_used_for_another_registration(),
            Claim::InProgress => responses::key_in_progress(),
        }
    }

    /// A claimed key's registration: charged, then its answer recorded for the key.
    async fn charge_and_record(
        &self,
        invocation: &Invocation,
        key: &IdempotencyKey,
        order_id: OrderId,
        registration: Registration,
        limits: &[Limit],
    ) -> HttpResponse {
        let order = match self
            .charge(invocation, order_id, registration, limits)
            .await
        {
            Ok(order) => order,
            Err(refused) => {
                let recorded = if refused.status.is_server_error()
                    || refused.status == http::StatusCode::TOO_MANY_REQUESTS
                {
                    // Nothing final happened (or the charge will replay; or a limit held it
                    // back for a while): let the same key try again.
                    self.idempotency.release(key).await
                } else {
                    self.idempotency.complete(key, &recorded(&refused)).await
                };
                if let Err(e) = recorded {
                    tracing::warn!("{}", function_model::chain(&e));
                }
                return refused;
            }
        };
        // Paid: the order is published and the answer recorded at the same time, not one
        // after the other (each waits for a write). The recorded answer carries the order,
        // and every replay of it publishes the order again, so whichever of the two fails,
        // the retry that the failure's answer asks for makes it good: a failed publish
        // answers 503 and its retry replays the recorded 201, publishing; a failed record
        // leaves the claim, which a retry takes over once the timeout has passed, replaying
        // the charge through PayPal-Request-Id. Nothing is charged twice either way.
        let response = responses::registered(&order);
        let answer = RecordedAnswer {
            published: Some(order.to_json()),
            ..recorded(&response)
        };
        let (published, recorded) = tokio::join!(
            self.publish(invocation, &order),
            self.idempotency.complete(key, &answer)
        );
        if let Err(e) = recorded {
            // The claim stays; once the timeout has passed a retry takes it over and replays.
            tracing::warn!("{}", function_model::chain(&e));
        }
        match published {
            Ok(()) => response,
            Err(not_published) => not_published,
        }
    }

    /// A key already answered: the same answer again, and a paid order published again (on
    /// Azure the first publish was an output binding sent after the answer was recorded, and
    /// could have been lost with the invocation).
    async fn replay(&self, invocation: &Invocation, answer: RecordedAnswer) -> HttpResponse {
        tracing::info!("replaying the answer to an earlier request with the same Idempotency-Key");
        if let Some(order) = answer.published.as_deref()
            && let Err(response) = self.publish_again(invocation, order).await
        {
            return response;
        }
        replayed(answer)
    }

    /// Publishes a paid order: the answer to give instead when that fails.
    async fn publish(
        &self,
        invocation: &Invocation,
        order: &OrderPlaced,
    ) -> Result<(), HttpResponse> {
        match self
            .publisher
            .publish(order, invocation.trace_id.as_deref())
            .await
        {
            Ok(()) => {
                tracing::info!(ticket = %order.ticket.id, amount = %order.amount, "registration paid and published");
                Ok(())
            }
            Err(e) => {
                tracing::error!(
                    capture_id = %order.payment.capture_id,
                    "paid but not published, the attendee is asked to retry: {}",
                    function_model::chain(&e)
                );
                Err(responses::not_published())
            }
        }
    }

    /// Publishes a paid registration's order again, for a replay; a failure is the answer to give
    /// instead (the key's record stays, so the next retry publishes again).
    async fn publish_again(
        &self,
        invocation: &Invocation,
        order: &str,
    ) -> Result<(), HttpResponse> {
        let order = match OrderPlaced::from_json(order) {
            Ok(order) => order,
            Err(e) => {
                tracing::error!("the recorded order does not read back: {e}");
                return Ok(());
            }
        };
        self.publisher
            .publish(&order, invocation.trace_id.as_deref())
            .await
            .map_err(|e| {
                tracing::error!(
                    capture_id = %order.payment.capture_id,
                    "paid but not published again: {}",
                    function_model::chain(&e)
                );
                responses::not_published()
            })
    }
}
