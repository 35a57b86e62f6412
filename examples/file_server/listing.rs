//! The HTML page listing a directory that has no `index.html`.
//!
//! Links are absolute (`/dir/name`), so they work whether or not the request URL ended in `/`,
//! and every name is percent-encoded in `href` and HTML-escaped in text: file names are
//! attacker-chosen input as much as requests are.

use std::fmt::Write;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// One directory entry: (name, is_dir, size in bytes).
pub(crate) type Entry = (String, bool, u64);

/// The listing page for the directory at `url_path`, the decoded path relative to the root as
/// `path::resolve` returns it (`""` for the root; stray leading, trailing or doubled `/` are
/// ignored). Directories come first, then files, each sorted by name; `.` and `..` entries
/// are skipped, and a `../` link is added except at the root.
pub(crate) fn directory_listing(url_path: &str, entries: &[Entry]) -> String {
    let segments: Vec<&str> = url_path.split('/').filter(|s| !s.is_empty()).collect();
    let mut base = String::from("/"); // this directory's URL, encoded, ending in '/'
    for seg in &segments {
        percent_encode(&mut base, seg);
        base.push('/');
    }
    let title = format!(
        "/{}",
        segments.iter().map(|s| format!("{s}/")).collect::<String>()
    );

    let mut html = String::with_capacity(512 + entries.len() * 96);
    html.push_str("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Index of ");
    html_escape(&mut html, &title);
    html.push_str("</title></head>\n<body><h1>Index of ");
    html_escape(&mut html, &title);
    html.push_str("</h1>\n<ul>\n");

    if let Some((_, parent)) = segments.split_last() {
        html.push_str("<li><a href=\"/");
        for seg in parent {
            percent_encode(&mut html, seg);
            html.push('/');
        }
        html.push_str("\">../</a></li>\n");
    }

    let mut sorted: Vec<&Entry> = entries
        .iter()
        .filter(|(name, _, _)| !name.is_empty() && name != "." && name != "..")
        .collect();
    // Directories first (true sorts before false once reversed), then by name.
    sorted.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    for (name, is_dir, size) in sorted {
        let slash = if *is_dir { "/" } else { "" };
        html.push_str("<li><a href=\"");
        html.push_str(&base);
        percent_encode(&mut html, name);
        html.push_str(slash);
        html.push_str("\">");
        html_escape(&mut html, name);
        html.push_str(slash);
        html.push_str("</a>");
        if !is_dir {
            // Writing into a String cannot fail.
            let _ = write!(html, " ({size} bytes)");
        }
        html.push_str("</li>\n");
    }
    html.push_str("</ul>\n</body></html>\n");
    html
}

/// The URL of the directory `rel` (as `path::resolve` returns it), encoded
/// and ending in `/`: where a request for the directory without its trailing
/// slash is redirected.
pub(crate) fn dir_url(rel: &str) -> String {
    let mut url = String::from("/");
    for seg in rel.split('/').filter(|s| !s.is_empty()) {
        percent_encode(&mut url, seg);
        url.push('/');
    }
    url
}

/// Escapes the five characters that could end a text node or a quoted attribute.
fn html_escape(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
}

/// Every byte but RFC 3986 unreserved ones (`A-Z a-z 0-9 - . _ ~`).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Encodes `segment` as one safe path segment: a `/`, `?`, `#`, `%` or quote inside a name
/// cannot change the link's meaning.
fn percent_encode(out: &mut String, segment: &str) {
    out.extend(utf8_percent_encode(segment, SEGMENT));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(name: &str, is_dir: bool, size: u64) -> Entry {
        (name.to_string(), is_dir, size)
    }

    #[test]
    fn root_listing_sorted_dirs_first_without_parent() {
        let html = directory_listing(
            "",
            &[
                e("b.txt", false, 3),
                e("zdir", true, 4096),
                e("a.txt", false, 10),
                e("adir", true, 0),
            ],
        );
        assert!(html.contains("<title>Index of /</title>"));
        assert!(!html.contains("../"));
        let pos = |s: &str| html.find(s).unwrap();
        assert!(pos("href=\"/adir/\">adir/</a>") < pos("href=\"/zdir/\""));
        assert!(pos("href=\"/zdir/\"") < pos("href=\"/a.txt\">a.txt</a> (10 bytes)"));
        assert!(pos("href=\"/a.txt\"") < pos("href=\"/b.txt\""));
    }

    #[test]
    fn nested_listing_has_parent_and_absolute_links() {
        let html = directory_listing("a b/c", &[e("f", false, 1)]);
        assert!(html.contains("<h1>Index of /a b/c/</h1>"));
        assert!(html.contains("<li><a href=\"/a%20b/\">../</a></li>"));
        assert!(html.contains("href=\"/a%20b/c/f\""));
        let html = directory_listing("/top/", &[]);
        assert!(html.contains("<li><a href=\"/\">../</a></li>"));
        assert_eq!(directory_listing("//x//", &[]), directory_listing("x", &[]));
    }

    #[test]
    fn directory_urls() {
        assert_eq!(dir_url(""), "/");
        assert_eq!(dir_url("a b/c"), "/a%20b/c/");
        assert_eq!(dir_url("x?y"), "/x%3Fy/");
    }

    #[test]
    fn hostile_names_are_escaped_and_encoded() {
        let name = "<script>alert('x')</script>\"&?#%/é";
        let html = directory_listing(
            "<d>",
            &[e(name, false, 0), e("..", true, 0), e(".", true, 0)],
        );
        assert!(!html.contains("<script>"));
        assert!(!html.contains("<d>"));
        assert!(html.contains("Index of /&lt;d&gt;/"));
        assert!(
            html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&quot;&amp;?#%/é</a>")
        );
        assert!(html.contains(
            "href=\"/%3Cd%3E/%3Cscript%3Ealert%28%27x%27%29%3C%2Fscript%3E%22%26%3F%23%25%2F%C3%A9\""
        ));
        // Only the parent link of `<d>` may say "../": the ".." entry is skipped.
        assert_eq!(html.matches("../").count(), 1);
        assert!(!html.contains("href=\"/%3Cd%3E/./\""));
    }
}
