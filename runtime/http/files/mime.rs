//! `Content-Type` from a file name's extension.

/// Extension (lower case) → media type. Text types name their charset so browsers need not
/// sniff; JSON has no charset parameter (RFC 8259 makes it UTF-8).
const TYPES: &[(&str, &str)] = &[
    ("html", "text/html; charset=utf-8"),
    ("htm", "text/html; charset=utf-8"),
    ("css", "text/css; charset=utf-8"),
    ("js", "text/javascript; charset=utf-8"),
    ("mjs", "text/javascript; charset=utf-8"),
    ("json", "application/json"),
    ("txt", "text/plain; charset=utf-8"),
    ("md", "text/markdown; charset=utf-8"),
    ("csv", "text/csv; charset=utf-8"),
    ("xml", "application/xml"),
    ("svg", "image/svg+xml"),
    ("png", "image/png"),
    ("jpg", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("gif", "image/gif"),
    ("webp", "image/webp"),
    ("ico", "image/x-icon"),
    ("pdf", "application/pdf"),
    ("wasm", "application/wasm"),
    ("mp4", "video/mp4"),
    ("webm", "video/webm"),
    ("mp3", "audio/mpeg"),
    ("ogg", "audio/ogg"),
    ("zip", "application/zip"),
    ("gz", "application/gzip"),
    ("tar", "application/x-tar"),
    ("woff", "font/woff"),
    ("woff2", "font/woff2"),
    ("ttf", "font/ttf"),
];

/// Fallback for unknown or missing extensions: download, never render.
pub(crate) const DEFAULT: &str = "application/octet-stream";

/// The media type for `path` (any path or bare name), matched on the last extension of the
/// last segment, case-insensitively.
pub(crate) fn content_type(path: &str) -> &'static str {
    let name = path.rsplit('/').next().unwrap_or(path);
    let Some((stem, ext)) = name.rsplit_once('.') else {
        return DEFAULT;
    };
    if stem.is_empty() {
        return DEFAULT; // a dotfile such as `.html` has no extension
    }
    TYPES
        .iter()
        .find(|(e, _)| e.eq_ignore_ascii_case(ext))
        .map_or(DEFAULT, |&(_, t)| t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_extensions() {
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("a/b/STYLE.CSS"), "text/css; charset=utf-8");
        assert_eq!(content_type("app.mjs"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("photo.JpEg"), "image/jpeg");
        assert_eq!(content_type("archive.tar.gz"), "application/gzip");
        assert_eq!(content_type("font.woff2"), "font/woff2");
        assert_eq!(content_type("data.json"), "application/json");
        for (ext, ty) in TYPES {
            assert_eq!(content_type(&format!("x.{ext}")), *ty);
            assert_eq!(content_type(&format!("x.{}", ext.to_uppercase())), *ty);
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
            "x.exe",
            "é.ü",
            "x.html\0",
        ] {
            assert_eq!(content_type(p), DEFAULT, "{p:?}");
        }
    }
}
