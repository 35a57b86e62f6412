//! Validators and conditional requests (RFC 9110 §8.8, §13): the strong ETag
//! of a file, and the §13.2.2 evaluation order of `If-Match`,
//! `If-Unmodified-Since`, `If-None-Match`, `If-Modified-Since` and `If-Range`.
//! Shared by `examples/file_server` and `runtime::http::ServeDir`.

use std::time::{SystemTime, UNIX_EPOCH};

use runtime::fs::Metadata;

use super::date;

/// The precondition and range fields of a GET or HEAD, as the request
/// carries them (`None` when absent; a list field repeated is joined with
/// `,`).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Preconditions<'a> {
    /// `If-Match`.
    pub(crate) if_match: Option<&'a str>,
    /// `If-Unmodified-Since`.
    pub(crate) if_unmodified_since: Option<&'a str>,
    /// `If-None-Match`.
    pub(crate) if_none_match: Option<&'a str>,
    /// `If-Modified-Since`.
    pub(crate) if_modified_since: Option<&'a str>,
    /// `Range`.
    pub(crate) range: Option<&'a str>,
    /// `If-Range`.
    pub(crate) if_range: Option<&'a str>,
}

/// A strong ETag from the file's identity: inode, size and modification time
/// in nanoseconds, plus the content coding of a precompressed sibling, so
/// each representation has its own. Any change of content that touches the
/// file (rewrite, replace by rename) changes at least one of them.
pub(crate) fn etag(meta: &Metadata, coding: Option<&str>) -> String {
    let mtime = meta
        .modified()
        .ok()
        .and_then(|m| m.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    match coding {
        Some(c) => format!("\"{:x}-{:x}-{mtime:x}-{c}\"", meta.ino(), meta.len()),
        None => format!("\"{:x}-{:x}-{mtime:x}\"", meta.ino(), meta.len()),
    }
}

/// What the preconditions say about a GET or HEAD.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Serve the representation; `honour_range` is false when `If-Range`
    /// does not match (then a `Range` is ignored and the whole of it is sent).
    Proceed { honour_range: bool },
    /// 304: the client's copy is current.
    NotModified,
    /// 412: a precondition the client set is false.
    PreconditionFailed,
}

/// The current representation's validators.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Validators<'a> {
    /// Its strong ETag, quotes included.
    pub(crate) etag: &'a str,
    /// Its modification time.
    pub(crate) last_modified: Option<SystemTime>,
    /// The response's `Date`: a `Last-Modified` less than a second before it
    /// is a weak validator (RFC 9110 §8.8.2.2) and never matches `If-Range`.
    pub(crate) now: SystemTime,
}

/// Evaluates the preconditions of a GET or HEAD in the order of RFC 9110
/// §13.2.2: `If-Match` (else `If-Unmodified-Since`) can fail with 412, then
/// `If-None-Match` (else `If-Modified-Since`) can answer 304, then `If-Range`
/// decides whether `Range` applies. An unparseable date is ignored.
pub(crate) fn evaluate(req: &Preconditions<'_>, v: &Validators<'_>) -> Outcome {
    if let Some(list) = req.if_match {
        if !list_matches(list, v.etag, Comparison::Strong) {
            return Outcome::PreconditionFailed;
        }
    } else if let (Some(ius), Some(lm)) = (req.if_unmodified_since, v.last_modified) {
        if let Some(since) = date::parse_http_date(ius) {
            if whole_secs(lm) > whole_secs(since) {
                return Outcome::PreconditionFailed;
            }
        }
    }
    if let Some(list) = req.if_none_match {
        if list_matches(list, v.etag, Comparison::Weak) {
            return Outcome::NotModified;
        }
    } else if let (Some(ims), Some(lm)) = (req.if_modified_since, v.last_modified) {
        if date::not_modified(lm, ims) {
            return Outcome::NotModified;
        }
    }
    let honour_range = match (req.range, req.if_range) {
        (Some(_), Some(if_range)) => if_range_matches(if_range, v),
        _ => true,
    };
    Outcome::Proceed { honour_range }
}

/// `If-Range` (RFC 9110 §13.1.5): an entity-tag must match strongly; a date
/// must equal `Last-Modified` exactly, and only if that is a strong validator.
fn if_range_matches(value: &str, v: &Validators<'_>) -> bool {
    let value = value.trim_matches([' ', '\t']);
    if value.starts_with('"') || value.starts_with("W/") {
        return matches!(tags(value).next(), Some(Some(tag)) if !tag.weak && tag.opaque == v.etag);
    }
    let (Some(date), Some(lm)) = (date::parse_http_date(value), v.last_modified) else {
        return false;
    };
    let strong = whole_secs(lm) < whole_secs(v.now);
    strong && whole_secs(lm) == whole_secs(date)
}

/// Whole seconds since the epoch (HTTP-dates have no finer resolution).
fn whole_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// How two entity-tags are compared (RFC 9110 §8.8.3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Comparison {
    /// Both strong and the same opaque tag (`If-Match`, `If-Range`).
    Strong,
    /// The same opaque tag, weak or not (`If-None-Match`).
    Weak,
}

/// One entity-tag of a list: `opaque` keeps its quotes, as our ETag does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Tag<'a> {
    weak: bool,
    opaque: &'a str,
}

/// Whether `*` or any tag of the list matches `etag` (a strong tag of ours).
/// A malformed list matches nothing past the point where it breaks.
fn list_matches(list: &str, etag: &str, how: Comparison) -> bool {
    if list.trim_matches([' ', '\t', ',']) == "*" {
        return true;
    }
    tags(list)
        .map_while(|t| t)
        .any(|t| t.opaque == etag && (how == Comparison::Weak || !t.weak))
}

/// The entity-tags of a comma-separated list; `None` (then the end) at the
/// first malformed element. Commas inside quotes belong to the tag.
fn tags(list: &str) -> impl Iterator<Item = Option<Tag<'_>>> {
    let mut rest = list;
    let mut broken = false;
    std::iter::from_fn(move || {
        if broken {
            return None;
        }
        rest = rest.trim_start_matches([' ', '\t', ',']);
        if rest.is_empty() {
            return None;
        }
        let (weak, body) = match rest.strip_prefix("W/") {
            Some(b) => (true, b),
            None => (false, rest),
        };
        let end = body
            .strip_prefix('"')
            .and_then(|b| b.find('"'))
            .map(|i| i + 2);
        match end {
            Some(end) => {
                rest = &body[end..];
                Some(Some(Tag {
                    weak,
                    opaque: &body[..end],
                }))
            }
            None => {
                broken = true;
                Some(None)
            }
        }
    })
}

#[cfg(test)]
#[path = "conditional_tests.rs"]
mod tests;
