//! What a PayPal refusal means, and what to tell the attendee.
//!
//! A card is refused in two ways: the capture comes back `DECLINED` with the processor's
//! `response_code` (the sandbox's `CCREJECT-*` names give these), or the call fails with HTTP 422
//! and an issue in `details[]`. Both become `PaymentError::Declined` with a sentence the
//! attendee can act on. A 422 issue about our own request or merchant account (an amount PayPal
//! cannot take, card processing not enabled) is not the attendee's doing: it is `None` here, and
//! the client reports it as `Rejected`, with an error log.

use crate::payments::PaymentError;

const GENERIC: &str =
    "Your bank declined the payment. Please use another card or contact your bank.";
const INSUFFICIENT_FUNDS: &str = "The card has insufficient funds. Please use another card.";
const EXPIRED: &str = "The card has expired. Please check the expiry date or use another card.";
const SECURITY_CODE: &str = "The security code does not match the card. \
    Please check the 3 or 4 digits on the card and try again.";
const CARD_NUMBER: &str = "The card number was not accepted. Please check it or use another card.";
const CANNOT_BE_USED: &str = "This card cannot be used for this payment. Please use another card.";
const CLOSED: &str = "This card has been closed. Please use another card.";
const CARD_TYPE: &str = "This type of card is not accepted. Please use another card.";
const ADDRESS: &str = "The card could not be verified with this name and billing address. \
    Please check them or use another card.";
const TOO_MANY_ATTEMPTS: &str = "There have been too many payment attempts with this card. \
    Please try again later or use another card.";
const LIMIT: &str = "The amount is over this card's limit. Please use another card.";
const VERIFICATION: &str = "Your bank asks for an extra verification step (3-D Secure) for this \
    card, which this site does not support. Please use another card.";

/// Processor response codes: code, PayPal's name for it, reason.
const PROCESSOR_CODES: &[(&str, &str, &str)] = &[
    ("0500", "DO_NOT_HONOR", GENERIC),
    ("9500", "SUSPECTED_FRAUD", GENERIC),
    ("5400", "EXPIRED_CARD", EXPIRED),
    ("5180", "INVALID_OR_RESTRICTED_CARD", CANNOT_BE_USED),
    ("5120", "INSUFFICIENT_FUNDS", INSUFFICIENT_FUNDS),
    ("9520", "LOST_OR_STOLEN", GENERIC),
    ("1330", "INVALID_ACCOUNT", CARD_NUMBER),
    ("5100", "GENERIC_DECLINE", GENERIC),
    (
        "00N7",
        "CVV2_FAILURE_POSSIBLE_RETRY_WITH_CVV",
        SECURITY_CODE,
    ),
];

/// The order status, and 422 issue, for a card that needs 3-D Secure.
pub(super) const PAYER_ACTION_REQUIRED: &str = "PAYER_ACTION_REQUIRED";

/// 422 issues (orders.create and orders.capture) about the card or the payer, with their reasons.
/// An issue in neither this table nor [`OURS`] gets the generic reason.
const CARD_ISSUES: &[(&str, &str)] = &[
    ("INSTRUMENT_DECLINED", GENERIC),
    ("TRANSACTION_REFUSED", GENERIC),
    ("PAYMENT_SOURCE_DECLINED_BY_PROCESSOR", GENERIC),
    ("DECLINED_DUE_TO_RELATED_TXN", GENERIC),
    ("CARD_EXPIRED", EXPIRED),
    ("REFERENCED_CARD_EXPIRED", EXPIRED),
    ("INVALID_EXPIRY_DATE", EXPIRED),
    ("CARD_CLOSED", CLOSED),
    ("INVALID_SECURITY_CODE", SECURITY_CODE),
    ("INVALID_SECURITY_CODE_LENGTH", SECURITY_CODE),
    ("CARD_TYPE_NOT_SUPPORTED", CARD_TYPE),
    ("CARD_BRAND_NOT_SUPPORTED", CARD_TYPE),
    ("PAYER_CANNOT_PAY", CANNOT_BE_USED),
    ("PAYMENT_SOURCE_CANNOT_BE_USED", CANNOT_BE_USED),
    ("PAYER_ACCOUNT_LOCKED_OR_CLOSED", CANNOT_BE_USED),
    ("PAYER_ACCOUNT_RESTRICTED", CANNOT_BE_USED),
    ("REDIRECT_PAYER_FOR_ALTERNATE_FUNDING", CANNOT_BE_USED),
    ("DOMESTIC_TRANSACTION_REQUIRED", CANNOT_BE_USED),
    ("COMPLIANCE_VIOLATION", CANNOT_BE_USED),
    ("PAYEE_BLOCKED_TRANSACTION", CANNOT_BE_USED),
    ("TRANSACTION_BLOCKED_BY_PAYEE", CANNOT_BE_USED),
    ("PAYMENT_SOURCE_INFO_CANNOT_BE_VERIFIED", ADDRESS),
    ("BILLING_ADDRESS_INVALID", ADDRESS),
    ("CITY_REQUIRED", ADDRESS),
    ("POSTAL_CODE_REQUIRED", ADDRESS),
    ("MAX_NUMBER_OF_PAYMENT_ATTEMPTS_EXCEEDED", TOO_MANY_ATTEMPTS),
    ("TRANSACTION_LIMIT_EXCEEDED", LIMIT),
    (PAYER_ACTION_REQUIRED, VERIFICATION),
];

/// 422 issues that mean our request or our merchant account is wrong: a bug or a setup to fix,
/// whatever card the attendee tries.
const OURS: &[&str] = &[
    "AMOUNT_MISMATCH",
    "CANNOT_BE_NEGATIVE",
    "CANNOT_BE_ZERO_OR_NEGATIVE",
    "DECIMAL_PRECISION",
    "INVALID_CURRENCY_CODE",
    "MAX_VALUE_EXCEEDED",
    "DUPLICATE_INVOICE_ID",
    "DUPLICATE_REFERENCE_ID",
    "CARD_NUMBER_REQUIRED",
    "CARD_EXPIRY_REQUIRED",
    "INCOMPATIBLE_PARAMETER_VALUE",
    "NOT_ENABLED_FOR_CARD_PROCESSING",
    "PAYEE_NOT_ENABLED_FOR_CARD_PROCESSING",
    "PAYEE_ACCOUNT_INVALID",
    "PAYEE_ACCOUNT_LOCKED_OR_CLOSED",
    "PAYEE_ACCOUNT_RESTRICTED",
    "TRANSACTION_RECEIVING_LIMIT_EXCEEDED",
    "ORDER_NOT_APPROVED",
    "ORDER_ALREADY_CAPTURED",
];

fn declined(code: String, reason: &str) -> PaymentError {
    PaymentError::Declined {
        code,
        reason: reason.to_owned(),
    }
}

/// A capture that came back `DECLINED` or `FAILED`: the code is `"<response_code> <name>"`
/// (`"5120 INSUFFICIENT_FUNDS"`), the bare code when it is unknown, or `status` without one.
pub(super) fn by_processor(response_code: Option<&str>, status: &str) -> PaymentError {
    let Some(response_code) = response_code else {
        return declined(status.to_owned(), GENERIC);
    };
    match PROCESSOR_CODES
        .iter()
        .find(|(code, ..)| *code == response_code)
    {
        Some((code, name, reason)) => declined(format!("{code} {name}"), reason),
        None => declined(response_code.to_owned(), GENERIC),
    }
}

/// An order waiting for a 3-D Secure step, which this client cannot take.
pub(super) fn needs_verification() -> PaymentError {
    declined(PAYER_ACTION_REQUIRED.to_owned(), VERIFICATION)
}

/// A 422 `issue`: `Declined` with the issue as the code, or `None` when the issue is [ours](OURS).
pub(super) fn by_issue(issue: &str) -> Option<PaymentError> {
    if OURS.contains(&issue) {
        return None;
    }
    let reason = CARD_ISSUES
        .iter()
        .find(|(known, _)| *known == issue)
        .map_or(GENERIC, |(_, reason)| reason);
    Some(declined(issue.to_owned(), reason))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(error: PaymentError) -> (String, String) {
        match error {
            PaymentError::Declined { code, reason } => (code, reason),
            other => panic!("not a decline: {other:?}"),
        }
    }

    #[test]
    fn processor_codes_are_named_and_explained() {
        assert_eq!(
            reason(by_processor(Some("5120"), "DECLINED")),
            (
                "5120 INSUFFICIENT_FUNDS".to_owned(),
                INSUFFICIENT_FUNDS.to_owned()
            )
        );
        assert_eq!(
            reason(by_processor(Some("00N7"), "DECLINED")).1,
            SECURITY_CODE
        );
        assert_eq!(
            reason(by_processor(Some("9999"), "DECLINED")),
            ("9999".to_owned(), GENERIC.to_owned())
        );
        assert_eq!(
            reason(by_processor(None, "FAILED")),
            ("FAILED".to_owned(), GENERIC.to_owned())
        );
    }

    #[test]
    fn issues_are_the_attendees_unless_they_are_ours() {
        assert_eq!(
            reason(by_issue("CARD_EXPIRED").expect("declined")).1,
            EXPIRED
        );
        assert_eq!(
            reason(by_issue(PAYER_ACTION_REQUIRED).expect("declined")).1,
            VERIFICATION
        );
        assert_eq!(
            reason(by_issue("SOMETHING_NEW").expect("declined")),
            ("SOMETHING_NEW".to_owned(), GENERIC.to_owned())
        );
        assert_eq!(by_issue("NOT_ENABLED_FOR_CARD_PROCESSING"), None);
    }

    #[test]
    fn tables_have_no_duplicates_or_overlaps() {
        let mut issues: Vec<&str> = CARD_ISSUES
            .iter()
            .map(|(issue, _)| *issue)
            .chain(OURS.iter().copied())
            .collect();
        let count = issues.len();
        issues.sort_unstable();
        issues.dedup();
        assert_eq!(issues.len(), count);
        let mut codes: Vec<&str> = PROCESSOR_CODES.iter().map(|(code, ..)| *code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), PROCESSOR_CODES.len());
    }
}
