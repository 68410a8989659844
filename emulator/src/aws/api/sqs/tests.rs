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

/// A `Number` attribute's value: a decimal of up to 38 significant digits, between 10^-128 and
/// 10^+126 in magnitude.
#[test]
fn numbers_are_decimals_of_38_digits_between_1e_minus_128_and_1e126() {
    for number in [
        "0",
        "-0.0",
        "42",
        "+7",
        "-3.25",
        ".5",
        "5.",
        "1e3",
        "2.5E-7",
        "00012.3400",
        "12345678901234567890123456789012345678",
        "1e126",
        "9.99e126",
        "1e-128",
        "0.0001e-124",
    ] {
        assert!(limits::is_number(number), "{number}");
    }
    for not_a_number in [
        "",
        ".",
        "-",
        "abc",
        "1,5",
        "1e",
        "e5",
        "0x10",
        "1.2.3",
        " 1",
        "1 ",
        "NaN",
        "Infinity",
        "123456789012345678901234567890123456789",
        "1e127",
        "1e-129",
        "10e126",
    ] {
        assert!(!limits::is_number(not_a_number), "{not_a_number}");
    }
}
