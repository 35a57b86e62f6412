//! `Content-Type` from a file name's extension, on `mime_guess`'s maintained table, plus the
//! two rules of ours on top: text types say `charset=utf-8`, and a dotfile has no extension.

use std::borrow::Cow;

/// Fallback for unknown or missing extensions: download, never render.
pub(crate) const DEFAULT: &str = "application/octet-stream";

/// The media type for `path` (any path or bare name), matched on the last extension of the
/// last segment, case-insensitively. Text types name their charset so browsers need not
/// sniff; JSON has none (RFC 8259 makes it UTF-8).
pub(crate) fn content_type(path: &str) -> Cow<'static, str> {
    let name = path.rsplit('/').next().unwrap_or(path);
    let Some((stem, ext)) = name.rsplit_once('.') else {
        return Cow::Borrowed(DEFAULT);
    };
    if stem.is_empty() {
        return Cow::Borrowed(DEFAULT); // a dotfile such as `.html` has no extension
    }
    let essence = match mime_guess::from_ext(ext).first_raw() {
        // RFC 9239: `text/javascript` is the one name; the table still says the old one for `.mjs`.
        Some("application/javascript") => "text/javascript",
        Some(t) => t,
        None => DEFAULT,
    };
    if essence.starts_with("text/") {
        Cow::Owned(format!("{essence}; charset=utf-8"))
    } else {
        Cow::Borrowed(essence)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_extensions() {
        for (path, want) in [
            ("index.html", "text/html; charset=utf-8"),
            ("a/b/STYLE.CSS", "text/css; charset=utf-8"),
            ("app.js", "text/javascript; charset=utf-8"),
            ("app.mjs", "text/javascript; charset=utf-8"),
            ("notes.txt", "text/plain; charset=utf-8"),
            ("photo.JpEg", "image/jpeg"),
            ("archive.tar.gz", "application/gzip"),
            ("font.woff2", "font/woff2"),
            ("data.json", "application/json"),
            ("module.wasm", "application/wasm"),
            ("logo.svg", "image/svg+xml"),
        ] {
            assert_eq!(content_type(path), want, "{path:?}");
        }
    }

    #[test]
    fn unknown_or_missing() {
        for p in [
            "",
            "/",
            "Makefile",
            "a.b/README",
            ".html",
            "dir.html/",
            "x.",
            "x.unknownext",
            "é.ü",
            "x.html\0",
        ] {
            assert_eq!(content_type(p), DEFAULT, "{p:?}");
        }
    }
}
