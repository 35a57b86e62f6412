//! Unit tests of `conditional.rs`: tag lists and the §13.2.2 precedence.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::*;

const ETAG: &str = "\"1-2-3\"";
const LM: &str = "Sun, 06 Nov 1994 08:49:37 GMT";
const BEFORE: &str = "Sun, 06 Nov 1994 08:49:36 GMT";
const AFTER: &str = "Sun, 06 Nov 1994 08:49:38 GMT";

fn lm() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(784_111_777)
}

/// Evaluates the fields in `headers` (`Name: value` lines; a repeated
/// list field is joined with `,`, as the servers do).
fn eval(headers: &str) -> Outcome {
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in headers.split("\r\n").filter(|l| !l.is_empty()) {
        let (name, value) = line.split_once(':').expect("Name: value");
        let (name, value) = (name.trim().to_ascii_lowercase(), value.trim().to_string());
        match fields.iter_mut().find(|(n, _)| *n == name) {
            Some((_, v)) => {
                v.push_str(", ");
                v.push_str(&value);
            }
            None => fields.push((name, value)),
        }
    }
    let get = |name: &str| {
        fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let request = Preconditions {
        if_match: get("if-match"),
        if_unmodified_since: get("if-unmodified-since"),
        if_none_match: get("if-none-match"),
        if_modified_since: get("if-modified-since"),
        range: get("range"),
        if_range: get("if-range"),
    };
    let v = Validators {
        etag: ETAG,
        last_modified: Some(lm()),
        now: lm() + Duration::from_secs(60),
    };
    evaluate(&request, &v)
}

const GO: Outcome = Outcome::Proceed { honour_range: true };
const WHOLE: Outcome = Outcome::Proceed {
    honour_range: false,
};

#[test]
fn if_match() {
    assert_eq!(eval("If-Match: \"1-2-3\"\r\n"), GO);
    assert_eq!(eval("If-Match: \"x\", \"1-2-3\"\r\n"), GO);
    assert_eq!(eval("If-Match: *\r\n"), GO);
    assert_eq!(eval("If-Match: \"x\"\r\n"), Outcome::PreconditionFailed);
    // Strong comparison: a weak tag never matches.
    assert_eq!(
        eval("If-Match: W/\"1-2-3\"\r\n"),
        Outcome::PreconditionFailed
    );
    // Repeated fields form one list.
    assert_eq!(eval("If-Match: \"x\"\r\nIf-Match: \"1-2-3\"\r\n"), GO);
}

#[test]
fn if_match_wins_over_if_unmodified_since() {
    // §13.2.2 step 2 is skipped when If-Match is present.
    let h = format!("If-Match: \"1-2-3\"\r\nIf-Unmodified-Since: {BEFORE}\r\n");
    assert_eq!(eval(&h), GO);
    assert_eq!(
        eval(&format!("If-Unmodified-Since: {BEFORE}\r\n")),
        Outcome::PreconditionFailed
    );
    assert_eq!(eval(&format!("If-Unmodified-Since: {LM}\r\n")), GO);
    assert_eq!(eval("If-Unmodified-Since: garbage\r\n"), GO);
}

#[test]
fn if_none_match_wins_over_if_modified_since() {
    // The case of the issue: a non-matching If-None-Match with a matching IMS is 200.
    let h = format!("If-None-Match: \"other\"\r\nIf-Modified-Since: {LM}\r\n");
    assert_eq!(eval(&h), GO);
    let h = format!("If-None-Match: \"1-2-3\"\r\nIf-Modified-Since: {BEFORE}\r\n");
    assert_eq!(eval(&h), Outcome::NotModified);
    assert_eq!(eval("If-None-Match: W/\"1-2-3\"\r\n"), Outcome::NotModified);
    assert_eq!(eval("If-None-Match: *\r\n"), Outcome::NotModified);
    assert_eq!(
        eval(&format!("If-Modified-Since: {LM}\r\n")),
        Outcome::NotModified
    );
    assert_eq!(
        eval(&format!("If-Modified-Since: {AFTER}\r\n")),
        Outcome::NotModified
    );
    assert_eq!(eval(&format!("If-Modified-Since: {BEFORE}\r\n")), GO);
}

#[test]
fn precondition_failure_wins_over_not_modified() {
    let h = "If-Match: \"x\"\r\nIf-None-Match: \"1-2-3\"\r\n";
    assert_eq!(eval(h), Outcome::PreconditionFailed);
}

#[test]
fn if_range() {
    assert_eq!(eval("Range: bytes=0-1\r\nIf-Range: \"1-2-3\"\r\n"), GO);
    assert_eq!(eval("Range: bytes=0-1\r\nIf-Range: \"old\"\r\n"), WHOLE);
    assert_eq!(eval("Range: bytes=0-1\r\nIf-Range: W/\"1-2-3\"\r\n"), WHOLE);
    assert_eq!(eval(&format!("Range: bytes=0-1\r\nIf-Range: {LM}\r\n")), GO);
    assert_eq!(
        eval(&format!("Range: bytes=0-1\r\nIf-Range: {AFTER}\r\n")),
        WHOLE
    );
    assert_eq!(eval("Range: bytes=0-1\r\nIf-Range: junk\r\n"), WHOLE);
    // Without Range, If-Range means nothing.
    assert_eq!(eval("If-Range: \"old\"\r\n"), GO);
}

#[test]
fn tag_lists() {
    assert!(list_matches("\"a\", \"1-2-3\"", ETAG, Comparison::Strong));
    assert!(list_matches(" ,\"1-2-3\",", ETAG, Comparison::Strong));
    assert!(!list_matches("\"a,\"1-2-3\"", ETAG, Comparison::Weak));
    assert!(!list_matches("1-2-3", ETAG, Comparison::Weak));
    assert!(!list_matches("junk, \"1-2-3\"", ETAG, Comparison::Weak));
    assert!(!list_matches("", ETAG, Comparison::Weak));
    assert!(!list_matches("\"", ETAG, Comparison::Weak));
    assert!(!list_matches("W/", ETAG, Comparison::Weak));
}
