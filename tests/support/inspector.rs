//! The emulator's inspector (`/_emulator/api/…`) is the operator's view, and the tests' way to
//! see what happened behind an answer: the listings (queues, executions, emails, payments,
//! orders), the faults a test injects, messages sent to and read from a queue, and waiting for
//! an execution to finish or a queue to drain.

use serde_json::Value;

use crate::app::TestApp;

/// How many items the inspector gives per page (its maximum): fewer round trips.
const INSPECTOR_PAGE_LIMIT: &str = "1000";

impl TestApp {
    /// An inspector listing, whole: `queues`, `executions`, `outbox`, `audience`, `payments`,
    /// `orders`. A paged listing (`{"items": [...], "nextCursor": ...}`, newest first) is read
    /// page by page until `nextCursor` is null; a plain array is the whole listing at once.
    pub async fn inspect(&self, what: &str) -> Vec<Value> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut url = self.at(&format!("/_emulator/api/{what}"));
            url.query_pairs_mut()
                .append_pair("limit", INSPECTOR_PAGE_LIMIT);
            if let Some(cursor) = &cursor {
                url.query_pairs_mut().append_pair("cursor", cursor);
            }
            let (status, page) = self.get_answer(url).await;
            assert_eq!(status, 200, "/_emulator/api/{what}: {page}");
            let (page_items, next_cursor) = match page {
                Value::Array(all) => (all, None),
                Value::Object(mut page) => {
                    match (page.remove("items"), page.remove("nextCursor")) {
                        (Some(Value::Array(some)), Some(Value::String(next))) => (some, Some(next)),
                        (Some(Value::Array(some)), Some(Value::Null)) => (some, None),
                        other => panic!("/_emulator/api/{what} is not a page of items: {other:?}"),
                    }
                }
                other => panic!("/_emulator/api/{what} is not a listing: {other}"),
            };
            items.extend(page_items);
            cursor = next_cursor;
            if cursor.is_none() {
                return items;
            }
        }
    }

    pub async fn queue(&self, name: &str) -> Value {
        self.inspect("queues")
            .await
            .into_iter()
            .find(|q| q["name"] == name)
            .expect("queue listed")
    }

    pub async fn inject_fault(&self, fault: Value) {
        let response = self
            .client()
            .post(format!("{}/_emulator/api/faults", self.url))
            .json(&fault)
            .send()
            .await
            .expect("request sent");
        assert_eq!(response.status().as_u16(), 201, "fault {fault} accepted");
    }

    /// The captures the local PayPal completed (declined ones are listed too, with their status).
    pub async fn completed_payments(&self) -> Vec<Value> {
        self.inspect("payments")
            .await
            .into_iter()
            .filter(|p| p["status"] == "COMPLETED")
            .collect()
    }

    pub async fn clear_faults(&self) {
        let response = self
            .client()
            .delete(format!("{}/_emulator/api/faults", self.url))
            .send()
            .await
            .expect("request sent");
        assert_eq!(response.status().as_u16(), 204);
    }

    pub async fn send_to_queue(&self, queue: &str, body: &str) {
        let response = self
            .client()
            .post(self.queue_url(queue, "messages"))
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .expect("request sent");
        assert_eq!(response.status().as_u16(), 201);
    }

    /// The inspector's URL of `what` under a queue (a Service Bus dead-letter queue's name,
    /// `registrations/$DeadLetterQueue`, percent-encoded).
    pub fn queue_url(&self, queue: &str, what: &str) -> String {
        let name = queue.replace('/', "%2F").replace('$', "%24");
        format!("{}/_emulator/api/queues/{name}/{what}", self.url)
    }

    /// Sends an inspector request with a JSON body (or none): its status and JSON answer (`null`
    /// when it has none).
    pub async fn inspector_call(
        &self,
        method: reqwest::Method,
        url: String,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self
            .client()
            .request(method, url)
            .header("content-type", "application/json");
        if let Some(body) = body {
            request = request.body(body.to_string());
        }
        let response = request.send().await.expect("request sent");
        let status = response.status().as_u16();
        let text = response.text().await.expect("a body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Redrives the execution `name` from the inspector (its Redrive button's call): the status
    /// and the answer.
    pub async fn redrive(&self, name: &str) -> (u16, Value) {
        let url = format!("{}/_emulator/api/executions/{name}/redrive", self.url);
        self.inspector_call(reqwest::Method::POST, url, None).await
    }

    /// Waits (up to 20 s) until the execution named `name` has stopped, and returns it whole,
    /// with its `events` (a listing's items leave them out). Until it has started, the
    /// inspector answers 404.
    pub async fn finished_execution(&self, name: &str) -> Value {
        self.eventually(20, || async {
            let (status, execution) = self
                .get_answer(self.at(&format!("/_emulator/api/executions/{name}")))
                .await;
            match status {
                404 => None,
                200 => (execution["status"] != "RUNNING").then_some(execution),
                _ => panic!("/_emulator/api/executions/{name}: {status} {execution}"),
            }
        })
        .await
        .unwrap_or_else(|| panic!("execution {name} did not finish within 20 s"))
    }

    /// Waits (up to 20 s) until `queue` holds no message: none visible, in flight or delayed.
    /// Whatever was sent to it by then has been taken up (or dead-lettered), so that a check
    /// that something did not happen can follow.
    pub async fn drained(&self, queue: &str) {
        let drained = self
            .eventually(20, || async {
                let q = self.queue(queue).await;
                (q["visible"] == 0 && q["inFlight"] == 0 && q["delayed"] == 0).then_some(())
            })
            .await;
        assert!(
            drained.is_some(),
            "queue {queue} not drained within 20 s: {}",
            self.queue(queue).await
        );
    }
}
