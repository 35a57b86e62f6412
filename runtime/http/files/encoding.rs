//! Precompressed siblings (`name.br`, `name.gz`), chosen by `Accept-Encoding`
//! (RFC 9110 §12.5.3), as nginx's `gzip_static` and caddy's `precompressed`.

/// A content coding we may find precompressed beside a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Coding {
    Brotli,
    Gzip,
}

impl Coding {
    /// The `Content-Encoding` token.
    pub(crate) fn token(self) -> &'static str {
        match self {
            Coding::Brotli => "br",
            Coding::Gzip => "gzip",
        }
    }

    /// The sibling's suffix.
    pub(crate) fn suffix(self) -> &'static str {
        match self {
            Coding::Brotli => ".br",
            Coding::Gzip => ".gz",
        }
    }
}

/// The codings `accept_encoding` allows, best first: by the client's weight,
/// then Brotli before gzip (smaller). `q=0` refuses a coding; `*` stands for
/// every coding not named; `x-gzip` is gzip. An unparseable weight counts as
/// 0, so nothing is sent compressed that the client may not decode.
pub(crate) fn accepted(accept_encoding: &str) -> Vec<Coding> {
    let (mut br, mut gzip, mut star) = (None, None, None);
    for item in accept_encoding.split(',') {
        let mut parts = item.split(';');
        let name = parts.next().unwrap_or("").trim_matches([' ', '\t']);
        let q = parts
            .map(|p| p.trim_matches([' ', '\t']))
            .find_map(|p| p.strip_prefix("q=").or_else(|| p.strip_prefix("Q=")))
            .map_or(Some(1000), weight)
            .unwrap_or(0);
        let slot = if name.eq_ignore_ascii_case("br") {
            &mut br
        } else if name.eq_ignore_ascii_case("gzip") || name.eq_ignore_ascii_case("x-gzip") {
            &mut gzip
        } else if name == "*" {
            &mut star
        } else {
            continue;
        };
        *slot = Some(q);
    }
    let mut out: Vec<(u16, Coding)> = [(br, Coding::Brotli), (gzip, Coding::Gzip)]
        .into_iter()
        .filter_map(|(q, c)| Some((q.or(star)?, c)))
        .filter(|&(q, _)| q > 0)
        .collect();
    // Stable: equal weights keep Brotli first.
    out.sort_by_key(|&(q, _)| std::cmp::Reverse(q));
    out.into_iter().map(|(_, c)| c).collect()
}

/// A weight `0`, `0.ddd`, `1` or `1.000` in thousandths (RFC 9110 §12.4.2).
fn weight(v: &str) -> Option<u16> {
    let (int, frac) = v.split_once('.').unwrap_or((v, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let frac_value = frac
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(3)
        .fold(0u16, |n, b| n * 10 + u16::from(b - b'0'));
    match int {
        "0" => Some(frac_value),
        "1" if frac_value == 0 => Some(1000),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::Coding::{Brotli, Gzip};
    use super::*;

    #[test]
    fn preferences() {
        assert_eq!(accepted("gzip, deflate, br"), [Brotli, Gzip]);
        assert_eq!(accepted("gzip"), [Gzip]);
        assert_eq!(accepted("x-gzip"), [Gzip]);
        assert_eq!(accepted("br;q=0.5, gzip"), [Gzip, Brotli]);
        assert_eq!(accepted("br;q=0, gzip;q=0.1"), [Gzip]);
        assert_eq!(accepted("*"), [Brotli, Gzip]);
        assert_eq!(accepted("*;q=0, gzip"), [Gzip]);
        assert_eq!(accepted("identity"), []);
        assert_eq!(accepted(""), []);
        assert_eq!(accepted("gzip;q=2"), []);
        assert_eq!(accepted("gzip;q=0.0001"), []);
        assert_eq!(accepted("GZIP ; q=1.0"), [Gzip]);
    }

    #[test]
    fn weights() {
        assert_eq!(weight("1"), Some(1000));
        assert_eq!(weight("0.5"), Some(500));
        assert_eq!(weight("0.123"), Some(123));
        assert_eq!(weight("0."), Some(0));
        assert_eq!(weight("1.5"), None);
        assert_eq!(weight("x"), None);
        assert_eq!(weight(""), None);
    }
}
