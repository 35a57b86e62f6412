//! HTTP-dates (RFC 9110 §5.6.7): IMF-fixdate out; IMF-fixdate, RFC 850 and asctime in.
//!
//! Hand-written on Howard Hinnant's days-from-civil algorithms to keep the example free of a
//! date crate. Times are whole seconds clamped to 1970-01-01 ..= 9999-12-31, the range an
//! IMF-fixdate's four-digit year can say.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const LONG_DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
/// 9999-12-31T23:59:59Z.
const MAX_SECS: u64 = 253_402_300_799;

/// Displays a time as an IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`, without allocating.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HttpDate(pub(crate) SystemTime);

impl fmt::Display for HttpDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = unix_secs(self.0);
        let days = secs / 86_400;
        let rem = secs % 86_400;
        let (y, m, d) = civil_from_days(days as i64);
        // 1970-01-01 was a Thursday.
        let wd = DAYS[((days + 4) % 7) as usize];
        let mon = MONTHS[(m - 1) as usize];
        let (hh, mm, ss) = (rem / 3600, rem / 60 % 60, rem % 60);
        write!(f, "{wd}, {d:02} {mon} {y:04} {hh:02}:{mm:02}:{ss:02} GMT")
    }
}

/// Appends `now` as an IMF-fixdate, formatting it only once per second per
/// thread (every response carries a `Date`).
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
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClfDate(pub(crate) SystemTime);

impl fmt::Display for ClfDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = unix_secs(self.0);
        let (y, m, d) = civil_from_days((secs / 86_400) as i64);
        let mon = MONTHS[(m - 1) as usize];
        let rem = secs % 86_400;
        let (hh, mm, ss) = (rem / 3600, rem / 60 % 60, rem % 60);
        write!(f, "{d:02}/{mon}/{y:04}:{hh:02}:{mm:02}:{ss:02} +0000")
    }
}

/// Whole seconds since the epoch, clamped to the range an HTTP-date can express.
fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        .min(MAX_SECS)
}

/// Parses any of the three HTTP-date formats; `None` if it is not one (the caller then ignores
/// the header, as RFC 9110 §13.1.3 requires for `If-Modified-Since`).
pub(crate) fn parse_http_date(s: &str) -> Option<SystemTime> {
    let s = s.trim_matches([' ', '\t']);
    let secs = parse_imf_fixdate(s)
        .or_else(|| parse_rfc850(s))
        .or_else(|| parse_asctime(s))?;
    Some(UNIX_EPOCH + Duration::from_secs(secs))
}

/// True when a file last modified at `mtime` is not newer than the `If-Modified-Since` value,
/// i.e. the answer is 304. An unparsable value means "modified" (serve normally).
pub(crate) fn not_modified(mtime: SystemTime, if_modified_since: &str) -> bool {
    // HTTP-dates have no sub-second part, so compare whole seconds.
    parse_http_date(if_modified_since).is_some_and(|ims| unix_secs(mtime) <= unix_secs(ims))
}

/// `Sun, 06 Nov 1994 08:49:37 GMT`
fn parse_imf_fixdate(s: &str) -> Option<u64> {
    let (wd, rest) = s.split_once(", ")?;
    DAYS.iter().position(|d| *d == wd)?;
    let mut it = rest.split(' ');
    let day = num(it.next()?, 2)?;
    let month = month(it.next()?)?;
    let year = num(it.next()?, 4)?;
    let time = it.next()?;
    (it.next()? == "GMT" && it.next().is_none()).then_some(())?;
    to_secs(year, month, day, time)
}

/// `Sunday, 06-Nov-94 08:49:37 GMT` (obsolete; two-digit years from 70 are 19xx, else 20xx).
fn parse_rfc850(s: &str) -> Option<u64> {
    let (wd, rest) = s.split_once(", ")?;
    LONG_DAYS.iter().position(|d| *d == wd)?;
    let mut it = rest.split(' ');
    let mut date = it.next()?.split('-');
    let day = num(date.next()?, 2)?;
    let month = month(date.next()?)?;
    let yy = num(date.next()?, 2)?;
    date.next().is_none().then_some(())?;
    let time = it.next()?;
    (it.next()? == "GMT" && it.next().is_none()).then_some(())?;
    let year = if yy >= 70 { 1900 + yy } else { 2000 + yy };
    to_secs(year, month, day, time)
}

/// `Sun Nov  6 08:49:37 1994` (obsolete; the day is space-padded).
fn parse_asctime(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() != 24 || b[3] != b' ' || b[7] != b' ' || b[10] != b' ' || b[19] != b' ' {
        return None;
    }
    // The indices above are ASCII spaces, so these slices fall on char boundaries.
    DAYS.iter().position(|d| *d == &s[..3])?;
    let month = month(&s[4..7])?;
    let day = num(s[8..10].trim_start_matches(' '), 0)?;
    let year = num(&s[20..], 4)?;
    to_secs(year, month, day, &s[11..19])
}

/// Validates the calendar date and `HH:MM:SS`, then counts seconds since the epoch.
fn to_secs(year: u64, month: u64, day: u64, time: &str) -> Option<u64> {
    let mut t = time.split(':');
    let hh = num(t.next()?, 2)?;
    let mm = num(t.next()?, 2)?;
    let ss = num(t.next()?, 2)?;
    // Second 60 is a leap second; it simply rolls into the next minute.
    if t.next().is_some() || hh > 23 || mm > 59 || ss > 60 || year < 1970 {
        return None;
    }
    if !(1..=days_in_month(year, month)).contains(&day) {
        return None;
    }
    let days = days_from_civil(year as i64, month as u32, day as u32);
    let secs = u64::try_from(days).ok()? * 86_400 + hh * 3600 + mm * 60 + ss;
    Some(secs.min(MAX_SECS))
}

/// Exactly `width` ASCII digits (`0`: one or two digits).
fn num(s: &str, width: usize) -> Option<u64> {
    let ok_len = if width == 0 {
        (1..=2).contains(&s.len())
    } else {
        s.len() == width
    };
    if !ok_len || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `Jan` → 1; month names are case-sensitive in HTTP-dates.
fn month(s: &str) -> Option<u64> {
    MONTHS.iter().position(|m| *m == s).map(|i| i as u64 + 1)
}

fn days_in_month(year: u64, month: u64) -> u64 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date; `month` is 1..=12.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((month + 9) % 12); // March is 0, so leap day ends the year
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of `days_from_civil`: (year, month 1..=12, day 1..=31).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

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

    #[test]
    fn civil_round_trip() {
        for days in (-800_000..3_000_000).step_by(997) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    /// Strings of bytes that matter to date parsing, from a fixed-seed xorshift (no rand crate).
    fn hostile_inputs() -> impl Iterator<Item = String> {
        const ALPHABET: &[&str] = &[
            "Sun", "Sunday", ", ", " ", "  ", "-", ":", "06", "6", "Nov", "1994", "94", "08", "99",
            "GMT", "é",
        ];
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        (0..20_000).map(move |_| {
            let mut next = || {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x
            };
            let n = next() % 12;
            (0..n)
                .map(|_| ALPHABET[next() as usize % ALPHABET.len()])
                .collect()
        })
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
