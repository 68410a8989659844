//! The save-order task: stores the paid order in SQL. An upsert by order id, so a retried task or a
//! redelivered order stores one row.

use std::sync::Arc;

use async_trait::async_trait;
use domain::OrderPlaced;
use function_model::{ErrorType, FunctionError, Invocation, TypedTask};
use order_store::{OrderStore, StoreError};
use serde_json::{Value, json};

pub struct SaveOrder {
    store: Arc<dyn OrderStore>,
}

impl SaveOrder {
    /// The function on `store`, which is each host's own (PostgreSQL from `DATABASE_URL` on
    /// Lambda and Azure, the emulator's SQLite): it reads no settings, so every host builds it
    /// with this.
    pub fn new(store: Arc<dyn OrderStore>) -> Self {
        Self { store }
    }
}

#[async_trait]
impl TypedTask for SaveOrder {
    type Input = OrderPlaced;
    type Output = Value;
    const RAISES: &'static [ErrorType] = &[ErrorType::StoreUnavailable, ErrorType::StoreError];

    async fn run(
        &self,
        _invocation: &Invocation,
        order: OrderPlaced,
    ) -> Result<Value, FunctionError> {
        let saved = self.store.save(&order).await.map_err(|e| match e {
            StoreError::Query(_) | StoreError::Write(_) | StoreError::Connect(_) => {
                FunctionError::new(
                    ErrorType::StoreUnavailable,
                    "the order store is unavailable",
                )
                .with_source(e)
            }
            other => FunctionError::new(ErrorType::StoreError, "the order could not be stored")
                .with_source(other),
        })?;
        tracing::info!(order_id = %order.order_id, ?saved, "order stored");
        Ok(json!({ "orderId": order.order_id, "saved": saved }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use function_model::TaskFunction;

    fn invocation() -> Invocation {
        Invocation::local("task", std::time::Duration::from_secs(10), None)
    }

    #[tokio::test]
    async fn stores_once_and_rejects_what_is_not_an_order() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = order_store::connect(&format!("sqlite://{}/o.db", dir.path().display()))
            .await
            .expect("store");
        let task = SaveOrder::new(store.clone());
        let order: Value = serde_json::from_str(include_str!(
            "../../../shared/domain/data/order-placed.example.json"
        ))
        .expect("JSON");
        assert_eq!(
            task.handle(&invocation(), order.clone())
                .await
                .expect("saved")["saved"],
            "inserted"
        );
        assert_eq!(
            task.handle(&invocation(), order).await.expect("saved")["saved"],
            "alreadyStored"
        );
        assert_eq!(store.orders().await.expect("orders").len(), 1);
        let error = task
            .handle(&invocation(), json!({"orderId": 1}))
            .await
            .expect_err("invalid");
        assert_eq!(error.error_type(), ErrorType::InvalidInput);
        assert!(!error.is_retryable());
    }
}
