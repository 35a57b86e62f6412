//! HTTP-dates (RFC 9110 §5.6.7) on the `httpdate` crate: the cached `Date` header, the
//! clamping `httpdate` needs, and the access log's common-log-format date.
//!
//! `httpdate` formats IMF-fixdate and parses all three formats (IMF-fixdate, RFC 850,
//! asctime). It panics on times before 1970 or past 9999 (a file's mtime can be either),
//! so every time is clamped to the range an IMF-fixdate's four-digit year can say first.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// 9999-12-31T23:59:59Z, the last second `httpdate` formats.
const MAX_SECS: u64 = 253_402_300_799;

/// Displays a time as an IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`, without allocating.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HttpDate(pub(crate) SystemTime);

impl fmt::Display for HttpDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&httpdate::HttpDate::from(clamp(self.0)), f)
    }
}

/// Appends `now` as an IMF-fixdate, formatting it only once per second per
/// thread: every response carries a `Date`, and a cached copy is cheaper than
/// the calendar arithmetic `httpdate` does per call.
#[allow(dead_code)] // only the file server (examples/file_server) uses it, not `ServeDir`
pub(crate) fn append_http_date(out: &mut Vec<u8>, now: SystemTime) {
    use std::cell::RefCell;
    use std::io::Write;
    thread_local! {
        /// The second last formatted, and its text.
        static LAST: RefCell<(u64, Vec<u8>)> = const { RefCell::new((u64::MAX, Vec::new())) };
    }
    let secs = unix_secs(now);
    LAST.with_borrow_mut(|(at, text)| {
        if *at != secs {
            text.clear();
            let _ = write!(text, "{}", HttpDate(now));
            *at = secs;
        }
        out.extend_from_slice(text);
    });
}

/// Displays a time as the common log format does, e.g. `06/Nov/1994:08:49:37 +0000`.
#[allow(dead_code)] // only the file server (examples/file_server) uses it, not `ServeDir`
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClfDate(pub(crate) SystemTime);

impl fmt::Display for ClfDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // An IMF-fixdate is fixed-width (`Sun, 06 Nov 1994 08:49:37 GMT`), so the
        // common log format is its fields rearranged: no calendar code of our own.
        let imf = HttpDate(self.0).to_string();
        let field = |range: std::ops::Range<usize>| imf.get(range).unwrap_or("");
        write!(
            f,
            "{}/{}/{}:{} +0000",
            field(5..7),
            field(8..11),
            field(12..16),
            field(17..25)
        )
    }
}

/// Whole seconds since the epoch, clamped to the range an HTTP-date can express.
fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        .min(MAX_SECS)
}

/// `t` moved into 1970-01-01 ..= 9999-12-31, whole seconds.
fn clamp(t: SystemTime) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(unix_secs(t))
}

/// Parses any of the three HTTP-date formats; `None` if it is not one (the caller then ignores
/// the header, as RFC 9110 §13.1.3 requires for `If-Modified-Since`).
pub(crate) fn parse_http_date(s: &str) -> Option<SystemTime> {
    httpdate::parse_http_date(s.trim_matches([' ', '\t'])).ok()
}

/// True when a file last modified at `mtime` is not newer than the `If-Modified-Since` value,
/// i.e. the answer is 304. An unparsable value means "modified" (serve normally).
pub(crate) fn not_modified(mtime: SystemTime, if_modified_since: &str) -> bool {
    // HTTP-dates have no sub-second part, so compare whole seconds.
    parse_http_date(if_modified_since).is_some_and(|ims| unix_secs(mtime) <= unix_secs(ims))
}

// Each parser's tests load the generator themselves, so that the file stays
// usable on its own where `examples/file_server` includes it.
#[cfg(test)]
#[allow(clippy::duplicate_mod)]
#[path = "hostile.rs"]
mod hostile;

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn formats_known_values() {
        let cases = [
            (784_111_777, "Sun, 06 Nov 1994 08:49:37 GMT"),
            (0, "Thu, 01 Jan 1970 00:00:00 GMT"),
            (951_782_400, "Tue, 29 Feb 2000 00:00:00 GMT"),
            (1_709_164_800, "Thu, 29 Feb 2024 00:00:00 GMT"),
            (4_102_444_799, "Thu, 31 Dec 2099 23:59:59 GMT"),
            (MAX_SECS, "Fri, 31 Dec 9999 23:59:59 GMT"),
        ];
        for (secs, text) in cases {
            assert_eq!(HttpDate(at(secs)).to_string(), text);
            assert_eq!(parse_http_date(text), Some(at(secs)), "{text}");
        }
    }

    #[test]
    fn cached_date_matches_display() {
        for secs in [0, 784_111_777, 784_111_778, 784_111_778] {
            let mut out = Vec::new();
            append_http_date(&mut out, at(secs));
            assert_eq!(out, HttpDate(at(secs)).to_string().into_bytes());
        }
    }

    #[test]
    fn common_log_format() {
        assert_eq!(
            ClfDate(at(784_111_777)).to_string(),
            "06/Nov/1994:08:49:37 +0000"
        );
        assert_eq!(ClfDate(at(0)).to_string(), "01/Jan/1970:00:00:00 +0000");
    }

    #[test]
    fn clamps_out_of_range_times() {
        assert_eq!(
            HttpDate(at(u32::MAX as u64 * 1000)).to_string(),
            "Fri, 31 Dec 9999 23:59:59 GMT"
        );
        let before = UNIX_EPOCH - Duration::from_secs(10);
        assert_eq!(
            HttpDate(before).to_string(),
            "Thu, 01 Jan 1970 00:00:00 GMT"
        );
        assert_eq!(ClfDate(before).to_string(), "01/Jan/1970:00:00:00 +0000");
    }

    #[test]
    fn parses_obsolete_formats() {
        assert_eq!(
            parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"),
            Some(at(784_111_777))
        );
        assert_eq!(
            parse_http_date("Sun Nov  6 08:49:37 1994"),
            Some(at(784_111_777))
        );
        assert_eq!(
            parse_http_date("Thu Feb 29 00:00:00 2024"),
            Some(at(1_709_164_800))
        );
        assert_eq!(
            parse_http_date("Tuesday, 01-Jan-30 00:00:00 GMT"),
            Some(at(1_893_456_000))
        );
        assert_eq!(
            parse_http_date(" \tSun, 06 Nov 1994 08:49:37 GMT\t "),
            Some(at(784_111_777))
        );
    }

    #[test]
    fn rejects_garbage() {
        for s in [
            "",
            "Sun, 06 Nov 1994 08:49:37",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 6 Nov 1994 08:49:37 GMT",
            "Sun, 06 nov 1994 08:49:37 GMT",
            "Sun, 31 Nov 1994 08:49:37 GMT",
            "Sun, 29 Feb 1900 00:00:00 GMT",
            "Sun, 06 Nov 1994 24:00:00 GMT",
            "Sun, 06 Nov 1994 08:60:00 GMT",
            "Sun, 06 Nov 1969 08:49:37 GMT",
            "Sun, 06 Nov +994 08:49:37 GMT",
            "Xyz, 06 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 08:49:37 GMT extra",
            "Sun Nov  6 08:49:37 19944",
            "Sun Nov 6  08:49:37 1994",
            "Sun Nov  6 08:49:37 199é",
            "Sunday, 06-Nov-1994 08:49:37 GMT",
            "ééééééééééééééééééééééé",
        ] {
            assert_eq!(parse_http_date(s), None, "{s:?}");
        }
    }

    #[test]
    fn not_modified_compares_whole_seconds() {
        let ims = "Sun, 06 Nov 1994 08:49:37 GMT";
        let mtime = at(784_111_777) + Duration::from_millis(900);
        assert!(not_modified(mtime, ims));
        assert!(not_modified(at(784_111_000), ims));
        assert!(!not_modified(at(784_111_778), ims));
        assert!(!not_modified(mtime, "yesterday"));
    }

    /// Strings of bytes that matter to date parsing (see `hostile.rs`).
    fn hostile_inputs() -> impl Iterator<Item = String> {
        const ALPHABET: &[&str] = &[
            "Sun", "Sunday", ", ", " ", "  ", "-", ":", "06", "6", "Nov", "1994", "94", "08", "99",
            "GMT", "é",
        ];
        super::hostile::inputs(ALPHABET)
    }

    #[test]
    fn hostile_dates_never_panic() {
        for s in hostile_inputs() {
            if let Some(t) = parse_http_date(&s) {
                assert!(
                    parse_http_date(&HttpDate(t).to_string()) == Some(t),
                    "{s:?}"
                );
            }
        }
    }
}
