use super::*;

/// Digests SQS itself computed: a message attribute `someattr` = `someval` (String), from a
/// Lambda SQS event of a real queue, and a body.
#[test]
fn digests_match_those_sqs_computes() {
    let attributes = BTreeMap::from([("someattr".to_owned(), "someval".to_owned())]);
    assert_eq!(
        md5_of_attributes(&attributes),
        "1e4b169c724503f3886d943e5bbe88e5"
    );
    assert_eq!(
        md5_hex(b"this is a test of the GoAws Queue messaging"),
        "9d3f5eaac3b1b4dd509f39e71e25f954"
    );
}

#[test]
fn attribute_names_match_all_prefixes_and_names() {
    let names = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    assert!(asked(&names(&["All"]), "x"));
    assert!(asked(&names(&[".*"]), "x"));
    assert!(asked(&names(&["order.*"]), "order.id"));
    assert!(!asked(&names(&["order.*"]), "orderid"));
    assert!(asked(&names(&["DeadLetterReason"]), "DeadLetterReason"));
    assert!(!asked(&names(&[]), "DeadLetterReason"));
}
