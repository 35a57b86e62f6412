//! The access log: one line per response in the common log format, on stdout.
//!
//! `host - - [date] "request line" status bytes`, where bytes counts the body
//! (`-` for none). The request line is escaped (`"`, `\` and bytes outside
//! printable ASCII as `\xHH`), so a hostile target cannot forge log lines.
//! Each line is one `write` to stdout under its lock; like nginx's
//! `access_log` without a buffer, a stdout that blocks slows the worker.

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::IpAddr;
use std::time::SystemTime;

use crate::date::ClfDate;

/// What one log line says.
#[derive(Debug)]
pub(crate) struct Entry<'a> {
    /// The client's address.
    pub(crate) peer: Option<IpAddr>,
    /// The request line, unescaped; `None` when the head did not parse.
    pub(crate) request_line: Option<&'a str>,
    /// The response status code.
    pub(crate) status: u16,
    /// Body bytes in the response.
    pub(crate) body_bytes: u64,
    /// When the response was sent.
    pub(crate) time: SystemTime,
}

/// Formats `entry` as one line, newline included.
pub(crate) fn line(entry: &Entry<'_>) -> String {
    let mut out = String::with_capacity(128);
    match entry.peer {
        Some(ip) => {
            let _ = write!(out, "{ip}");
        }
        None => out.push('-'),
    }
    let _ = write!(out, " - - [{}] \"", ClfDate(entry.time));
    match entry.request_line {
        Some(line) => escape(&mut out, line),
        None => out.push('-'),
    }
    let _ = write!(out, "\" {} ", entry.status);
    if entry.body_bytes == 0 {
        out.push('-');
    } else {
        let _ = write!(out, "{}", entry.body_bytes);
    }
    out.push('\n');
    out
}

/// Writes `entry` to stdout; a failed write is dropped (logging never ends a connection).
pub(crate) fn log(entry: &Entry<'_>) {
    let _ = std::io::stdout().lock().write_all(line(entry).as_bytes());
}

fn escape(out: &mut String, s: &str) {
    for b in s.bytes() {
        match b {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(char::from(b));
            }
            0x20..=0x7e => out.push(char::from(b)),
            _ => {
                let _ = write!(out, "\\x{b:02X}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn common_log_format_line() {
        let e = Entry {
            peer: Some("127.0.0.1".parse().unwrap()),
            request_line: Some("GET /a\"b\n HTTP/1.1"),
            status: 200,
            body_bytes: 13,
            time: UNIX_EPOCH + Duration::from_secs(784_111_777),
        };
        assert_eq!(
            line(&e),
            "127.0.0.1 - - [06/Nov/1994:08:49:37 +0000] \"GET /a\\\"b\\x0A HTTP/1.1\" 200 13\n"
        );
        let e = Entry {
            peer: None,
            request_line: None,
            status: 400,
            body_bytes: 0,
            ..e
        };
        assert!(line(&e).ends_with("] \"-\" 400 -\n"));
    }
}
