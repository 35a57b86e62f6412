//! Request target → relative path under the served root, refusing anything that could climb out.
//! Shared by `examples/file_server` and `runtime::http::ServeDir`.
//!
//! This is the lexical half of the sandbox; the caller opens the result relative to the root
//! directory with `openat2(RESOLVE_BENEATH)`, which also stops symlinks that point outside.
//!
//! Errors: 400 for a target that is malformed (neither origin-form `/x` nor absolute-form
//! `http://host/x`, a bad `%` escape, bytes that are not UTF-8 once decoded, NUL or any other
//! control character); 403 for one that is well-formed but tries to climb (`..` as a segment,
//! before or after decoding) or uses a backslash as a separator. Absolute-form is accepted, as
//! RFC 9112 §3.2.2 requires, by ignoring the scheme and authority.

/// Why a target is refused: answer 400 or 403.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    /// Malformed: 400.
    BadRequest,
    /// Tries to climb out of the root: 403.
    Forbidden,
}

/// Maps a request target to a path relative to the root: no leading `/`, no empty, `.` or `..`
/// segments, `""` for the root itself. Query and fragment are dropped, `%XX` decoded, and an
/// encoded `%2F` splits segments like a literal `/`.
pub(crate) fn resolve(target: &str) -> Result<String, Status> {
    let path = match target.find(['?', '#']) {
        Some(end) => &target[..end],
        None => target,
    };
    let path = strip_scheme_and_authority(path);
    if !path.starts_with('/') {
        return Err(Status::BadRequest);
    }
    let decoded = percent_decode(path)?;
    if decoded.chars().any(char::is_control) {
        return Err(Status::BadRequest); // NUL truncates C paths; the rest has no business here
    }
    if decoded.contains('\\') {
        return Err(Status::Forbidden);
    }
    let mut out = String::with_capacity(decoded.len());
    for seg in decoded.split('/') {
        match seg {
            "" | "." => {}
            ".." => return Err(Status::Forbidden),
            _ => {
                if !out.is_empty() {
                    out.push('/');
                }
                out.push_str(seg);
            }
        }
    }
    Ok(out)
}

/// Whether the target's path (before any query) ends in `/`: `/file.txt/` is
/// then a 404, and a directory without it a 301.
pub(crate) fn has_trailing_slash(target: &str) -> bool {
    let path = target.find(['?', '#']).map_or(target, |end| &target[..end]);
    strip_scheme_and_authority(path).ends_with('/')
}

/// The query of the target, without `?` (for the `Location` of a redirect).
#[allow(dead_code)] // only the file server (examples/file_server) uses it, not `ServeDir`
pub(crate) fn query(target: &str) -> Option<&str> {
    let target = target.find('#').map_or(target, |end| &target[..end]);
    target.split_once('?').map(|(_, q)| q)
}

/// Whether a resolved path names a dotfile or anything inside a dot-directory.
pub(crate) fn is_hidden(rel: &str) -> bool {
    rel.split('/').any(|seg| seg.starts_with('.'))
}

/// `http://host/x` → `/x`, `https://host` → `/`; any other target is returned unchanged.
fn strip_scheme_and_authority(target: &str) -> &str {
    let rest = ["http://", "https://"].iter().find_map(|scheme| {
        let head = target.get(..scheme.len())?;
        head.eq_ignore_ascii_case(scheme)
            .then(|| &target[scheme.len()..])
    });
    match rest {
        Some(rest) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => target,
    }
}

/// Decodes `%XX` escapes with `percent-encoding`, which passes a malformed escape through as
/// literal text; ours is stricter, as a request path should be: a `%` not followed by two hex
/// digits is a 400, and so are bytes that are not UTF-8 once decoded.
fn percent_decode(s: &str) -> Result<String, Status> {
    let well_formed = s.split('%').skip(1).all(|after| {
        after
            .as_bytes()
            .get(..2)
            .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit))
    });
    if !well_formed {
        return Err(Status::BadRequest);
    }
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .map(|decoded| decoded.into_owned())
        .map_err(|_| Status::BadRequest)
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

    fn ok(target: &str, want: &str) {
        assert_eq!(resolve(target), Ok(want.to_string()), "{target:?}");
    }

    fn err(target: &str, want: Status) {
        assert_eq!(resolve(target), Err(want), "{target:?}");
    }

    #[test]
    fn normal_paths() {
        ok("/", "");
        ok("/index.html", "index.html");
        ok("/a/b/c.txt", "a/b/c.txt");
        ok("/dir/", "dir");
        ok("/a//b///c", "a/b/c");
        ok("/./a/./b/.", "a/b");
        ok("/a/...b/...", "a/...b/...");
        ok("/.hidden", ".hidden");
        ok("/hello%20world.txt", "hello world.txt");
        ok("/caf%C3%A9", "café");
        ok("/café", "café");
        ok("/a%2Fb", "a/b");
        ok("/a%2e/b", "a./b");
        ok("/%2e/x", "x");
    }

    #[test]
    fn query_fragment_and_absolute_form() {
        ok("/a.txt?x=../../etc", "a.txt");
        ok("/a.txt#frag", "a.txt");
        ok("/?", "");
        ok("http://example.com/a/b", "a/b");
        ok("HTTPS://example.com", "");
        ok("http://example.com?q", "");
        err("http://example.com/../x", Status::Forbidden);
    }

    #[test]
    fn slashes_queries_and_dotfiles() {
        assert!(has_trailing_slash("/dir/"));
        assert!(has_trailing_slash("/dir/?x=1"));
        assert!(has_trailing_slash("http://h/"));
        assert!(!has_trailing_slash("/dir"));
        assert!(!has_trailing_slash("/dir?x=/"));
        assert_eq!(query("/a?x=1#f"), Some("x=1"));
        assert_eq!(query("/a#f?x"), None);
        assert!(is_hidden(".git/HEAD"));
        assert!(is_hidden("a/.env"));
        assert!(!is_hidden("a/b.c"));
        assert!(!is_hidden(""));
    }

    #[test]
    fn never_absolute() {
        ok("//etc/passwd", "etc/passwd");
        ok("/%2Fetc/passwd", "etc/passwd");
        ok("///", "");
    }

    #[test]
    fn traversal_is_forbidden() {
        err("/..", Status::Forbidden);
        err("/../etc/passwd", Status::Forbidden);
        err("/a/../../etc/passwd", Status::Forbidden);
        err("/a/..", Status::Forbidden);
        err("/%2e%2e", Status::Forbidden);
        err("/%2E%2E%2Fetc", Status::Forbidden);
        err("/a/%2e%2e%2f%2e%2e%2fetc", Status::Forbidden);
        err("/.%2e/x", Status::Forbidden);
        err("/..%5c..%5cetc", Status::Forbidden);
        err("/a\\b", Status::Forbidden);
        err("/a%5Cb", Status::Forbidden);
        err("/%2e%2E", Status::Forbidden);
        err("/a%2f%2e%2e", Status::Forbidden);
        err("/a%2F..%2Fb", Status::Forbidden);
        err("/%2e%2e%2F", Status::Forbidden);
    }

    #[test]
    fn decoding_happens_once() {
        // `%25` is a literal `%`: a doubly encoded `..` names a file called `%2e%2e`.
        ok("/%252e%252e", "%2e%2e");
        ok("/%252f", "%2f");
        ok("/%2500", "%00");
    }

    #[test]
    fn malformed_is_bad_request() {
        err("", Status::BadRequest);
        err("*", Status::BadRequest);
        err("etc/passwd", Status::BadRequest);
        err("example.com:80", Status::BadRequest);
        err("/%00", Status::BadRequest);
        err("/a%00.txt", Status::BadRequest);
        err("/a\0", Status::BadRequest);
        err("/%0a", Status::BadRequest);
        err("/%7f", Status::BadRequest);
        err("/%", Status::BadRequest);
        err("/%2", Status::BadRequest);
        err("/%zz", Status::BadRequest);
        err("/%%32%65", Status::BadRequest);
        err("/%ff", Status::BadRequest);
        err("/%C3", Status::BadRequest);
        err("/%é", Status::BadRequest);
        err("ftp://x/y", Status::BadRequest);
        err("é", Status::BadRequest);
    }

    /// Strings of bytes that matter to the resolver (see `hostile.rs`).
    fn hostile_inputs() -> impl Iterator<Item = String> {
        const ALPHABET: &[&str] = &[
            "/", ".", "..", "%", "2e", "2F", "5c", "00", "C3", "a", "?", "#", "\\", "http://", "é",
            "\0",
        ];
        super::hostile::inputs(ALPHABET)
    }

    #[test]
    fn hostile_targets_never_escape() {
        for t in hostile_inputs() {
            if let Ok(p) = resolve(&t) {
                assert!(!p.starts_with('/') && !p.contains("//"), "{t:?} -> {p:?}");
                assert!(
                    p.split('/').all(|s| s != ".." && s != "."),
                    "{t:?} -> {p:?}"
                );
                assert!(!p.contains(['\\', '\0']), "{t:?} -> {p:?}");
            }
        }
    }
}
