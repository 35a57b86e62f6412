//! The `Range` header (RFC 9110 §14.2), for a single byte range.
//!
//! Anything we do not serve as one range (another unit, several ranges, bad syntax) yields
//! `Full`: the RFC lets a server ignore `Range` and send 200, which is always safe.

/// What to send for a `Range` header against a file of a known length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RangeOutcome {
    /// Ignore the header: 200 with the whole file.
    Full,
    /// 206 with bytes `start..=end_inclusive`; always `start <= end_inclusive < file_len`.
    Partial { start: u64, end_inclusive: u64 },
    /// 416 with `Content-Range: bytes */file_len`.
    Unsatisfiable,
}

/// Interprets `header` (the field value, e.g. `bytes=0-99`) against `file_len`.
///
/// `bytes=a-b` (b clamped to the last byte), `bytes=a-` and the suffix `bytes=-n` (the last n
/// bytes; the whole file if n is larger; n = 0 is unsatisfiable). A first byte at or past the
/// end is unsatisfiable. Numbers too large for u64 saturate, which gives the same answers as
/// their true values. On an empty file a non-zero suffix is `Full`, since a 206 cannot carry
/// zero bytes.
pub(crate) fn parse_range(header: &str, file_len: u64) -> RangeOutcome {
    let Some((unit, spec)) = header.trim_matches([' ', '\t']).split_once('=') else {
        return RangeOutcome::Full;
    };
    if !unit.eq_ignore_ascii_case("bytes") || spec.contains(',') {
        return RangeOutcome::Full;
    }
    let Some((first, last)) = spec.trim_matches([' ', '\t']).split_once('-') else {
        return RangeOutcome::Full;
    };
    if first.is_empty() {
        return match digits(last) {
            None => RangeOutcome::Full,
            Some(0) => RangeOutcome::Unsatisfiable,
            Some(_) if file_len == 0 => RangeOutcome::Full,
            Some(n) => RangeOutcome::Partial {
                start: file_len.saturating_sub(n),
                end_inclusive: file_len - 1,
            },
        };
    }
    let Some(start) = digits(first) else {
        return RangeOutcome::Full;
    };
    let end = if last.is_empty() {
        u64::MAX
    } else {
        match digits(last) {
            Some(end) if end >= start => end,
            _ => return RangeOutcome::Full, // last < first makes the range-spec invalid
        }
    };
    if start >= file_len {
        return RangeOutcome::Unsatisfiable;
    }
    RangeOutcome::Partial {
        start,
        end_inclusive: end.min(file_len - 1),
    }
}

/// One or more ASCII digits, saturating at `u64::MAX`; `None` for anything else.
fn digits(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.bytes().fold(0u64, |n, b| {
        n.saturating_mul(10).saturating_add(u64::from(b - b'0'))
    }))
}

// Each parser's tests load the generator themselves, so that the file stays
// usable on its own where `examples/file_server` includes it.
#[cfg(test)]
#[allow(clippy::duplicate_mod)]
#[path = "hostile.rs"]
mod hostile;

#[cfg(test)]
mod tests {
    use super::RangeOutcome::{Full, Partial, Unsatisfiable};
    use super::*;

    fn p(start: u64, end_inclusive: u64) -> RangeOutcome {
        Partial {
            start,
            end_inclusive,
        }
    }

    #[test]
    fn closed_ranges() {
        assert_eq!(parse_range("bytes=0-0", 10), p(0, 0));
        assert_eq!(parse_range("bytes=2-5", 10), p(2, 5));
        assert_eq!(parse_range("bytes=0-9", 10), p(0, 9));
        assert_eq!(parse_range("bytes=5-100", 10), p(5, 9));
        assert_eq!(parse_range("BYTES=1-2", 10), p(1, 2));
        assert_eq!(parse_range(" bytes= 1-2 ", 10), p(1, 2));
    }

    #[test]
    fn open_and_suffix_ranges() {
        assert_eq!(parse_range("bytes=3-", 10), p(3, 9));
        assert_eq!(parse_range("bytes=9-", 10), p(9, 9));
        assert_eq!(parse_range("bytes=-1", 10), p(9, 9));
        assert_eq!(parse_range("bytes=-4", 10), p(6, 9));
        assert_eq!(parse_range("bytes=-10", 10), p(0, 9));
        assert_eq!(parse_range("bytes=-500", 10), p(0, 9));
        assert_eq!(parse_range("bytes=-0", 10), Unsatisfiable);
    }

    #[test]
    fn unsatisfiable() {
        assert_eq!(parse_range("bytes=10-", 10), Unsatisfiable);
        assert_eq!(parse_range("bytes=10-20", 10), Unsatisfiable);
        assert_eq!(parse_range("bytes=0-0", 0), Unsatisfiable);
        assert_eq!(parse_range("bytes=0-", 0), Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", 0), Unsatisfiable);
        assert_eq!(parse_range("bytes=-5", 0), Full);
    }

    #[test]
    fn ignored_headers() {
        for h in [
            "",
            "bytes",
            "bytes=",
            "bytes=-",
            "bytes=5-2",
            "bytes=0-1,3-4",
            "bytes=0-1, 3-4",
            "items=0-1",
            "bytes=a-b",
            "bytes=+1-2",
            "bytes=1-+2",
            "bytes=1 -2",
            "bytes=--1",
            "bytes=1-2-3",
            "bytes=é-1",
            "=0-1",
        ] {
            assert_eq!(parse_range(h, 10), Full, "{h:?}");
        }
    }

    #[test]
    fn huge_numbers_never_panic() {
        let big = "99999999999999999999999999999";
        assert_eq!(parse_range(&format!("bytes={big}-"), 10), Unsatisfiable);
        assert_eq!(parse_range(&format!("bytes=0-{big}"), 10), p(0, 9));
        assert_eq!(parse_range(&format!("bytes=-{big}"), 10), p(0, 9));
        assert_eq!(
            parse_range(&format!("bytes={big}-{big}"), u64::MAX),
            Unsatisfiable
        );
        assert_eq!(parse_range("bytes=0-", u64::MAX), p(0, u64::MAX - 1));
        assert_eq!(
            parse_range("bytes=-1", u64::MAX),
            p(u64::MAX - 1, u64::MAX - 1)
        );
    }

    /// Strings of bytes that matter to range parsing (see `hostile.rs`).
    fn hostile_inputs() -> impl Iterator<Item = String> {
        const ALPHABET: &[&str] = &[
            "bytes",
            "=",
            "-",
            ",",
            " ",
            "0",
            "1",
            "9",
            "18446744073709551615",
            "99999999999999999999",
            "é",
            "x",
        ];
        super::hostile::inputs(ALPHABET)
    }

    #[test]
    fn hostile_headers_stay_in_bounds() {
        for h in hostile_inputs() {
            for len in [0, 1, 10, u64::MAX] {
                if let Partial {
                    start,
                    end_inclusive,
                } = parse_range(&h, len)
                {
                    assert!(start <= end_inclusive && end_inclusive < len, "{h:?} {len}");
                }
            }
        }
    }
}
