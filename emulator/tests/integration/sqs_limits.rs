//! SQS's documented limits on what a call sends, as the emulator enforces them
//! (`emulator::aws::api::sqs::limits`), driven with the official `aws-sdk-sqs` client (and raw
//! JSON-protocol requests where the SDK refuses to send): each limit refused with SQS's error code
//! and status, and the value at the limit accepted. `docs/limits.md` lists them.

use aws_sdk_sqs::config::http::HttpResponse;
use aws_sdk_sqs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sqs::operation::send_message::SendMessageError;
use aws_sdk_sqs::primitives::Blob;
use aws_sdk_sqs::types::{MessageAttributeValue, QueueAttributeName, SendMessageBatchRequestEntry};
use emulator::{Config, RunningEmulator};
use serde_json::{Value, json};

/// 1 MiB: the largest message (body and attributes) and the largest batch.
const MAX: usize = 1_048_576;

/// An emulator on a SQLite file of its own, with no event source consuming its queues.
struct Cloud {
    emulator: RunningEmulator,
    url: String,
    _dir: tempfile::TempDir,
}

async fn start() -> Cloud {
    let _dir = tempfile::tempdir().expect("a temporary directory");
    let database = _dir.path().join("emulator.db");
    let mut config = Config::new(format!("sqlite://{}", database.display()));
    config.event_sources = false;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await;
    let emulator = emulator::start(config, listener.expect("a free port")).await;
    let emulator = emulator.expect("the emulator starts");
    let url = format!(
        "{}/000000000000/RegistrationsDeadLetterQueue",
        emulator.url()
    );
    Cloud {
        emulator,
        url,
        _dir,
    }
}

type SendError = SdkError<SendMessageError, HttpResponse>;

impl Cloud {
    fn sqs(&self) -> aws_sdk_sqs::Client {
        crate::support::client!(aws_sdk_sqs, self.emulator.url())
    }

    /// `SendMessage` of `body` with `attributes`.
    async fn send(
        &self,
        body: &str,
        attributes: &[(&str, MessageAttributeValue)],
    ) -> Result<(), SendError> {
        let send = self.sqs().send_message().queue_url(&self.url);
        let mut send = send.message_body(body);
        for (name, value) in attributes {
            send = send.message_attributes(*name, value.clone());
        }
        send.send().await.map(|_| ())
    }

    /// `SendMessage` of `body` with `attributes`, refused: its status, code and message.
    async fn refused(
        &self,
        body: &str,
        attributes: &[(&str, MessageAttributeValue)],
    ) -> (u16, String, String) {
        let error = self.send(body, attributes).await.expect_err("refused");
        let (status, code, message) = refusal(&error);
        (status, code.to_owned(), message.to_owned())
    }

    /// A raw JSON-protocol call, as the SDKs send it: `(status, x-amzn-query-error, body)`.
    async fn raw(&self, operation: &str, input: Value) -> (u16, String, Value) {
        let request = reqwest::Client::new().post(self.emulator.url());
        let request = request.header("x-amz-target", format!("AmazonSQS.{operation}"));
        let request = request.header("content-type", "application/x-amz-json-1.0");
        let response = request.body(input.to_string()).send().await;
        let response = response.expect("an answer");
        let status = response.status().as_u16();
        let header = response.headers().get("x-amzn-query-error");
        let query_error = header.and_then(|v| v.to_str().ok()).unwrap_or_default();
        let query_error = query_error.to_owned();
        let body = response.json().await.expect("a JSON body");
        (status, query_error, body)
    }

    async fn stop(self) {
        self.emulator.shutdown().await;
    }
}

/// A refused call's HTTP status, error code (the SDK's, from `x-amzn-query-error`) and message.
fn refusal<E: ProvideErrorMetadata>(error: &SdkError<E, HttpResponse>) -> (u16, &str, &str) {
    let status = error
        .raw_response()
        .map(|response| response.status().as_u16());
    let code = error.code().unwrap_or_default();
    (
        status.unwrap_or_default(),
        code,
        error.message().unwrap_or_default(),
    )
}

/// Asserts that a call was refused with a 400, `code` and `message`.
#[track_caller]
fn assert_refused<E: ProvideErrorMetadata>(
    error: &SdkError<E, HttpResponse>,
    code: &str,
    message: &str,
) {
    assert_eq!(refusal(error), (400, code, message));
}

/// SQS's words for a number out of its range.
fn out_of_range(parameter: &str, value: i32, reason: &str) -> String {
    format!("Value {value} for parameter {parameter} is invalid. Reason: {reason}")
}

fn string(value: &str) -> MessageAttributeValue {
    typed("String", value)
}

fn typed(data_type: &str, value: &str) -> MessageAttributeValue {
    let attribute = MessageAttributeValue::builder().data_type(data_type);
    attribute.string_value(value).build().expect("an attribute")
}

fn binary(value: &[u8]) -> MessageAttributeValue {
    let attribute = MessageAttributeValue::builder().data_type("Binary");
    attribute
        .binary_value(Blob::new(value))
        .build()
        .expect("an attribute")
}

/// `(400, InvalidParameterValue, message)`, as [`Cloud::refused`] answers.
fn invalid(message: &str) -> (u16, String, String) {
    (400, "InvalidParameterValue".into(), message.into())
}

#[tokio::test]
async fn a_1_mib_message_with_its_attributes_is_sent_and_a_byte_more_is_invalid_parameter_value() {
    let cloud = start().await;
    // Attributes count with their names, data types and values: "k" "String" "x" is 8 bytes,
    // "bb" "String" "yz" 10.
    let attributes = [("k", string("x")), ("bb", string("yz"))];
    let at_limit = "a".repeat(MAX - 8 - 10);
    let sent = cloud.send(&at_limit, &attributes).await;
    sent.expect("exactly 1 MiB with the attributes");
    let too_long = "One or more parameters are invalid. Reason: Message must be shorter than \
                    1048576 bytes.";
    let over = cloud.refused(&format!("{at_limit}a"), &attributes).await;
    assert_eq!(over, invalid(too_long));
    // Bytes, not characters: 'é' is two bytes in UTF-8.
    let accented = "é".repeat(MAX / 2 - 1) + "aa";
    cloud.send(&accented, &[]).await.expect("1 MiB of UTF-8");
    let over = cloud.refused(&format!("{accented}a"), &[]).await;
    assert_eq!(over, invalid(too_long));
    cloud.stop().await;
}

#[tokio::test]
async fn get_queue_attributes_reports_the_1_mib_maximum_message_size() {
    let cloud = start().await;
    let size = QueueAttributeName::MaximumMessageSize;
    let answer = cloud.sqs().get_queue_attributes().queue_url(&cloud.url);
    let answer = answer.attribute_names(size.clone()).send().await;
    let attributes = answer
        .expect("GetQueueAttributes")
        .attributes
        .expect("attributes");
    assert_eq!(attributes[&size], "1048576");
    cloud.stop().await;
}

#[tokio::test]
async fn an_empty_body_is_a_missing_parameter() {
    let cloud = start().await;
    let empty = cloud.send("", &[]).await.expect_err("an empty body");
    let message = "The request must contain the parameter MessageBody.";
    assert_refused(&empty, "MissingParameter", message);
    cloud.send("x", &[]).await.expect("one character is enough");
    cloud.stop().await;
}

#[tokio::test]
async fn a_body_outside_sqs_character_set_is_invalid_message_contents() {
    let cloud = start().await;
    // The edges of each allowed range.
    let edges = "\t\n\r \u{D7FF}\u{E000}\u{FFFD}\u{10000}\u{10FFFF}";
    cloud.send(edges, &[]).await.expect("every allowed range");
    for (refused, written) in [
        ('\u{0}', "#x0"),
        ('\u{8}', "#x8"),
        ('\u{B}', "#xB"),
        ('\u{1F}', "#x1F"),
        ('\u{FFFE}', "#xFFFE"),
        ('\u{FFFF}', "#xFFFF"),
    ] {
        let error = cloud.send(&format!("ok{refused}ok"), &[]).await;
        let error = error.expect_err("a character outside the set");
        let typed = error.as_service_error();
        assert!(
            typed.is_some_and(|e| e.is_invalid_message_contents()),
            "{error:?}"
        );
        let message = format!(
            "Invalid binary character '{written}' was found in the message body, the set of \
             allowed characters is #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | \
             [#x10000-#x10FFFF]."
        );
        assert_refused(&error, "InvalidMessageContents", &message);
    }
    cloud.stop().await;
}

#[tokio::test]
async fn ten_message_attributes_are_accepted_and_eleven_are_invalid_parameter_value() {
    let cloud = start().await;
    let names: Vec<String> = (1..=11).map(|n| format!("attribute{n}")).collect();
    let attributes = |n: usize| -> Vec<(&str, MessageAttributeValue)> {
        names[..n]
            .iter()
            .map(|name| (name.as_str(), string("v")))
            .collect()
    };
    cloud
        .send("x", &attributes(10))
        .await
        .expect("10 attributes");
    let message = "Number of message attributes [11] exceeds the allowed maximum [10].";
    assert_eq!(cloud.refused("x", &attributes(11)).await, invalid(message));
    cloud.stop().await;
}

#[tokio::test]
async fn attribute_names_are_256_letters_digits_underscores_hyphens_and_periods_not_reserved() {
    let cloud = start().await;
    let longest = "n".repeat(256);
    for valid in [longest.as_str(), "a.b-c_D9", "aws", "AWSx.y", "amazonian"] {
        let sent = cloud.send("x", &[(valid, string("v"))]).await;
        assert!(sent.is_ok(), "{valid:?} is a valid name: {sent:?}");
    }
    let too_long = "n".repeat(257);
    let characters = "Message (user) attributes name can only contain upper and lower score \
                      characters, digits, periods, hyphens and underscores. ";
    let reserved = "You can't use message attribute names beginning with 'AWS.' or 'Amazon.'. \
                    These strings are reserved for internal use. Additionally, they cannot start \
                    or end with '.'.";
    let long = "Message (user) attribute names can be up to 256 characters long.";
    let successive = "Message (user) attribute name 'a..b' can't have successive '.' characters.";
    let empty = "The request must contain non-empty message (user) attribute names.";
    for (name, message) in [
        (too_long.as_str(), long),
        ("a b", characters),
        ("ümlaut", characters),
        ("AWS.x", reserved),
        ("aWs.x", reserved),
        ("AMAZON.x", reserved),
        (".x", reserved),
        ("x.", reserved),
        ("a..b", successive),
        ("", empty),
    ] {
        let refused = cloud.refused("x", &[(name, string("v"))]).await;
        assert_eq!(refused, invalid(message), "{name:?}");
    }
    cloud.stop().await;
}

#[tokio::test]
async fn attribute_data_types_are_string_number_or_binary_with_an_optional_label() {
    let cloud = start().await;
    let invalid_type = "The type of message (user) attribute 'a' is invalid. You must use only \
                        the following supported type prefixes: Binary, Number, String.";
    let not_a_number = "Can't cast the value of message (user) attribute 'a' to a number.";
    let no_type =
        "The message (user) attribute 'a' must contain a non-empty message attribute type.";
    let long = "Message (user) attribute types can be up to 256 characters long.";
    // Valid for SQS, then refused as a type the emulator does not keep: SQS's checks come first.
    let not_kept = "The emulator keeps message attributes of DataType String with a";
    let longest = format!("Number.{}", "l".repeat(249));
    let too_long = format!("Number.{}", "l".repeat(250));
    for (data_type, value, message) in [
        ("Integer", "1", invalid_type),
        ("string", "x", invalid_type),
        ("String.", "x", invalid_type),
        ("", "x", no_type),
        (&too_long, "1", long),
        ("Number", "twelve", not_a_number),
        ("Number.int", "1e127", not_a_number),
        (&longest, "1", not_kept),
    ] {
        let (status, code, said) = cloud.refused("x", &[("a", typed(data_type, value))]).await;
        let refused = (status, code.as_str());
        assert_eq!(refused, (400, "InvalidParameterValue"), "{data_type}");
        assert!(said.starts_with(message), "{data_type}: {said}");
    }
    let sent = cloud.send("x", &[("a", typed("String", "x"))]).await;
    sent.expect("a String");
    cloud.stop().await;
}

#[tokio::test]
async fn attribute_values_are_not_empty() {
    let cloud = start().await;
    for (value, data_type) in [
        (string(""), "String"),
        (typed("Number", ""), "Number"),
        (binary(&[]), "Binary"),
    ] {
        let message = format!(
            "Message (user) attribute 'a' must contain a non-empty value of type '{data_type}'."
        );
        assert_eq!(cloud.refused("x", &[("a", value)]).await, invalid(&message));
    }
    let sent = cloud.send("x", &[("a", string("v"))]).await;
    sent.expect("one character");
    cloud.stop().await;
}

#[tokio::test]
async fn string_attribute_values_take_the_body_character_set() {
    let cloud = start().await;
    let allowed = [("a", string("\t\u{D7FF}\u{10FFFF}"))];
    cloud.send("x", &allowed).await.expect("allowed characters");
    let (status, code, message) = cloud.refused("x", &[("a", string("bell\u{7}"))]).await;
    assert_eq!((status, code.as_str()), (400, "InvalidParameterValue"));
    assert!(
        message.starts_with("Invalid binary character '#x7'"),
        "{message}"
    );
    cloud.stop().await;
}

/// The SDK does not build an attribute without a data type; a raw request shows that SQS's
/// answer, on the wire, is a 400 with the error's name in `__type` and its code in
/// `x-amzn-query-error`.
#[tokio::test]
async fn an_attribute_without_a_data_type_is_refused_on_the_wire() {
    let cloud = start().await;
    let built = MessageAttributeValue::builder().string_value("v").build();
    assert!(built.is_err(), "the SDK requires a data type");
    let input = json!({
        "QueueUrl": cloud.url,
        "MessageBody": "x",
        "MessageAttributes": { "a": { "StringValue": "v" } },
    });
    let (status, query_error, body) = cloud.raw("SendMessage", input).await;
    assert_eq!(
        (status, query_error.as_str()),
        (400, "InvalidParameterValue;Sender")
    );
    let message =
        "The message (user) attribute 'a' must contain a non-empty message attribute type.";
    let expected = json!({ "__type": "InvalidParameterValueException", "message": message });
    assert_eq!(body, expected);

    let input = json!({ "QueueUrl": cloud.url, "MessageBody": "\u{1}" });
    let (status, query_error, body) = cloud.raw("SendMessage", input).await;
    assert_eq!(
        (status, query_error.as_str()),
        (400, "InvalidMessageContents;Sender")
    );
    assert_eq!(body["__type"], "InvalidMessageContents");
    cloud.stop().await;
}

fn entry(id: &str, body: &str) -> SendMessageBatchRequestEntry {
    let entry = SendMessageBatchRequestEntry::builder()
        .id(id)
        .message_body(body);
    entry.build().expect("an entry")
}

#[tokio::test]
async fn a_batch_of_1_mib_is_sent_and_one_byte_more_is_batch_request_too_long() {
    let cloud = start().await;
    let sqs = cloud.sqs();
    // Two entries of half a MiB, the first with an attribute ("k" "String" "x": 8 bytes).
    let batch = |extra: usize| {
        let first = SendMessageBatchRequestEntry::builder().id("first");
        let first = first.message_body("a".repeat(MAX / 2 - 8 + extra));
        let first = first.message_attributes("k", string("x")).build();
        let second = entry("second", &"b".repeat(MAX / 2));
        let batch = sqs.send_message_batch().queue_url(&cloud.url);
        batch
            .entries(first.expect("an entry"))
            .entries(second)
            .send()
    };
    let sent = batch(0).await.expect("a batch of exactly 1 MiB");
    assert_eq!(sent.successful().len(), 2);

    let over = batch(1).await.expect_err("one byte over 1 MiB");
    let typed = over.as_service_error();
    assert!(
        typed.is_some_and(|e| e.is_batch_request_too_long()),
        "{over:?}"
    );
    let message =
        "Batch requests cannot be longer than 1048576 bytes. You have sent 1048577 bytes.";
    assert_refused(&over, "AWS.SimpleQueueService.BatchRequestTooLong", message);
    cloud.stop().await;
}

#[tokio::test]
async fn a_batch_has_1_to_10_entries_with_distinct_ids_of_80_letters_digits_hyphens_underscores() {
    let cloud = start().await;
    let sqs = cloud.sqs();
    let batch = |ids: &[String]| {
        let mut send = sqs.send_message_batch().queue_url(&cloud.url);
        for id in ids {
            send = send.entries(entry(id, "x"));
        }
        send.send()
    };
    let ids = |n: usize| (0..n).map(|i| format!("id-{i}")).collect::<Vec<_>>();
    let longest = "I_d-9".repeat(16);
    let sent = batch(&[ids(9), vec![longest.clone()]].concat()).await;
    assert_eq!(
        sent.expect("10 entries, an id of 80").successful().len(),
        10
    );

    let eleven = batch(&ids(11)).await.expect_err("11 entries");
    let typed = eleven.as_service_error();
    assert!(
        typed.is_some_and(|e| e.is_too_many_entries_in_batch_request()),
        "{eleven:?}"
    );
    let message = "Maximum number of entries per request are 10. You have sent 11.";
    assert_refused(
        &eleven,
        "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
        message,
    );
    for invalid in [format!("{longest}x"), "a.b".into(), String::new()] {
        let error = batch(std::slice::from_ref(&invalid)).await;
        let error = error.expect_err("an invalid id");
        let message = "A batch entry id can only contain alphanumeric characters, hyphens and \
                       underscores. It can be at most 80 letters long.";
        assert_refused(
            &error,
            "AWS.SimpleQueueService.InvalidBatchEntryId",
            message,
        );
    }
    let repeated = batch(&["a".into(), "a".into()]).await.expect_err("twice");
    let code = "AWS.SimpleQueueService.BatchEntryIdsNotDistinct";
    assert_refused(&repeated, code, "Id a repeated.");
    // No entries at all, as a client that sends an empty list does.
    let input = json!({ "QueueUrl": cloud.url, "Entries": [] });
    let (status, query_error, _) = cloud.raw("SendMessageBatch", input).await;
    let empty = "AWS.SimpleQueueService.EmptyBatchRequest;Sender";
    assert_eq!((status, query_error.as_str()), (400, empty));
    cloud.stop().await;
}

/// An entry over a message's limits fails alone, with the code `SendMessage` would answer; the
/// others are sent.
#[tokio::test]
async fn a_batch_entry_over_a_message_limit_fails_alone() {
    let cloud = start().await;
    let late = SendMessageBatchRequestEntry::builder()
        .id("late")
        .message_body("x");
    let batch = cloud.sqs().send_message_batch().queue_url(&cloud.url);
    let batch = batch
        .entries(entry("good", "fine"))
        .entries(entry("control", "\u{1}"));
    let batch = batch.entries(entry("empty", ""));
    let batch = batch.entries(late.delay_seconds(901).build().expect("an entry"));
    let sent = batch.send().await.expect("SendMessageBatch");
    assert_eq!(sent.successful().len(), 1);
    assert_eq!(sent.successful()[0].id(), "good");
    let failed: Vec<(&str, &str, bool)> = sent
        .failed()
        .iter()
        .map(|f| (f.id(), f.code(), f.sender_fault()))
        .collect();
    let expected = [
        ("control", "InvalidMessageContents", true),
        ("empty", "MissingParameter", true),
        ("late", "InvalidParameterValue", true),
    ];
    assert_eq!(failed, expected);
    cloud.stop().await;
}

#[tokio::test]
async fn delay_seconds_is_0_to_900() {
    let cloud = start().await;
    let sqs = cloud.sqs();
    let send = |delay: i32| {
        let send = sqs.send_message().queue_url(&cloud.url).message_body("x");
        send.delay_seconds(delay).send()
    };
    send(0).await.expect("no delay");
    send(900).await.expect("15 minutes");
    for delay in [901, -1] {
        let error = send(delay).await.expect_err("out of range");
        let reason = "DelaySeconds must be >= 0 and <= 900.";
        let message = out_of_range("DelaySeconds", delay, reason);
        assert_refused(&error, "InvalidParameterValue", &message);
    }
    cloud.stop().await;
}

#[tokio::test]
async fn receive_max_number_of_messages_is_1_to_10() {
    let cloud = start().await;
    let sqs = cloud.sqs();
    let receive = |max: i32| {
        let receive = sqs.receive_message().queue_url(&cloud.url);
        receive.max_number_of_messages(max).send()
    };
    receive(1).await.expect("1");
    receive(10).await.expect("10");
    for max in [0, 11] {
        let error = receive(max).await.expect_err("out of range");
        let reason = "Must be between 1 and 10, if provided.";
        let message = out_of_range("MaxNumberOfMessages", max, reason);
        assert_refused(&error, "InvalidParameterValue", &message);
    }
    cloud.stop().await;
}

#[tokio::test]
async fn receive_wait_time_seconds_is_0_to_20() {
    let cloud = start().await;
    let sqs = cloud.sqs();
    // A message waits, so that the longest poll returns at once.
    cloud.send("x", &[]).await.expect("SendMessage");
    let receive = |wait: i32| {
        let receive = sqs.receive_message().queue_url(&cloud.url);
        receive.wait_time_seconds(wait).visibility_timeout(0).send()
    };
    receive(0).await.expect("short polling");
    let received = receive(20).await.expect("the longest poll");
    assert_eq!(received.messages().len(), 1);
    for wait in [21, -1] {
        let error = receive(wait).await.expect_err("out of range");
        let reason = "Must be >= 0 and <= 20, if provided.";
        let message = out_of_range("WaitTimeSeconds", wait, reason);
        assert_refused(&error, "InvalidParameterValue", &message);
    }
    cloud.stop().await;
}

#[tokio::test]
async fn receive_visibility_timeout_is_0_to_43200() {
    let cloud = start().await;
    let sqs = cloud.sqs();
    let receive = |visibility: i32| {
        let receive = sqs.receive_message().queue_url(&cloud.url);
        receive.visibility_timeout(visibility).send()
    };
    receive(0).await.expect("0");
    receive(43_200).await.expect("12 hours");
    for visibility in [43_201, -1] {
        let error = receive(visibility).await.expect_err("out of range");
        let reason = "Must be >= 0 and <= 43200, if provided.";
        let message = out_of_range("VisibilityTimeout", visibility, reason);
        assert_refused(&error, "InvalidParameterValue", &message);
    }
    cloud.stop().await;
}

#[tokio::test]
async fn change_message_visibility_timeout_is_0_to_43200() {
    let cloud = start().await;
    let sqs = cloud.sqs();
    cloud.send("x", &[]).await.expect("SendMessage");
    let received = sqs.receive_message().queue_url(&cloud.url).send().await;
    let received = received.expect("ReceiveMessage");
    let handle = received.messages()[0].receipt_handle().expect("a handle");
    let change = |visibility: i32| {
        let change = sqs.change_message_visibility().queue_url(&cloud.url);
        change
            .receipt_handle(handle)
            .visibility_timeout(visibility)
            .send()
    };
    change(43_200).await.expect("12 hours");
    for visibility in [43_201, -1] {
        let error = change(visibility).await.expect_err("out of range");
        let reason = "Must be >= 0 and <= 43200, if provided.";
        let message = out_of_range("VisibilityTimeout", visibility, reason);
        assert_refused(&error, "InvalidParameterValue", &message);
    }
    change(0).await.expect("visible again at once");
    cloud.stop().await;
}
