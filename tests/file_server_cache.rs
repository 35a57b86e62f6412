//! The file server's open-file table on both drivers: an unchanged hot file
//! is served with no `statx` per request (the table's own counters, printed
//! by `--stats`, say so), while a file rewritten, replaced, swapped for a
//! symlink or deleted is noticed within about the table's period (one second
//! by default, `--revalidate-ms`), and a deleted or replaced file's
//! descriptor is let go even if nobody asks for it again.

use std::io::{BufReader, Write};
use std::time::{Duration, Instant};

#[path = "support/file_server.rs"]
mod server;
mod support;

use server::{connect, get, read_response, start, Response, Server};

/// One worker's open-file table counters, as `--stats` prints them.
#[derive(Debug, PartialEq, Eq)]
struct Stats {
    hits: u64,
    rechecks: u64,
    opens: u64,
}

/// Stops the server (SIGTERM) and reads the counters worker 0 prints.
fn stats_after_shutdown(s: &mut Server) -> Stats {
    s.signal(libc::SIGTERM);
    loop {
        let line = s.next_line();
        assert!(!line.is_empty(), "the server exited without --stats output");
        // "worker 0 open-file table: 199 hits, 0 rechecks (statx), 1 opens"
        let Some(counts) = line.strip_prefix("worker 0 open-file table: ") else {
            continue;
        };
        let n: Vec<u64> = counts
            .split(", ")
            .map(|part| part.split(' ').next().unwrap().parse().unwrap())
            .collect();
        return Stats {
            hits: n[0],
            rechecks: n[1],
            opens: n[2],
        };
    }
}

/// `n` GETs of `/hello.txt` on one keep-alive connection.
fn get_hello_times(s: &Server, n: usize) {
    let c = connect(s);
    let mut r = BufReader::new(&c);
    for _ in 0..n {
        write!(&c, "GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
        assert_eq!(read_response(&mut r, false).body, b"hello, world\n");
    }
}

#[runtime::test]
async fn an_unchanged_file_is_not_looked_at_per_request() {
    // A period longer than the test: after the open, no statx at all.
    let mut s = start("nostat", &["--stats", "--revalidate-ms", "3600000"]);
    get_hello_times(&s, 200);
    let stats = stats_after_shutdown(&mut s);
    assert_eq!(
        stats,
        Stats {
            hits: 199,
            rechecks: 0,
            opens: 1
        }
    );
}

#[runtime::test]
async fn with_the_default_period_a_hot_file_is_looked_at_once_a_second_at_most() {
    let mut s = start("period", &["--stats"]);
    let started = Instant::now();
    get_hello_times(&s, 500);
    let elapsed = started.elapsed();
    let stats = stats_after_shutdown(&mut s);
    assert_eq!(
        (stats.opens, stats.hits + stats.rechecks),
        (1, 499),
        "{stats:?}"
    );
    // One recheck per period at most, however long the requests took (the
    // second +1: the coarse clock's tick): a bound, not a speed.
    assert!(
        stats.rechecks <= elapsed.as_secs() + 2,
        "{stats:?} in {elapsed:?}"
    );
}

/// GETs `target` until `new` holds for the response, each response meanwhile
/// passing `old` (the version served before the change); returns the last.
/// A change is noticed within about a second; the guard only stops a hang.
fn served_soon(
    s: &Server,
    target: &str,
    new: impl Fn(&Response) -> bool,
    old: impl Fn(&Response) -> bool,
) -> Response {
    let guard = Instant::now() + Duration::from_secs(60);
    loop {
        let r = get(s, target, "");
        assert!(
            !String::from_utf8_lossy(&r.body).contains("root:"),
            "{target} leaked"
        );
        if new(&r) {
            return r;
        }
        assert!(
            old(&r),
            "{target}: neither the old nor the new version: {} {:?}",
            r.status,
            String::from_utf8_lossy(&r.body)
        );
        assert!(
            Instant::now() < guard,
            "{target}: the change was never noticed"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[runtime::test]
async fn a_changed_file_is_served_new_within_about_a_second() {
    let s = &start("fresh", &[]);
    let path = s.root.join("c.txt");
    let body = |want: &'static [u8]| move |r: &Response| r.status == 200 && r.body == want;
    std::fs::write(&path, b"version 1\n").unwrap();
    assert_eq!(get(s, "/c.txt", "").body, b"version 1\n");
    assert_eq!(get(s, "/c.txt", "").body, b"version 1\n"); // from the table now

    // Rewritten in place, same size: the entry's bytes until it is rechecked.
    std::fs::write(&path, b"version 2\n").unwrap();
    served_soon(s, "/c.txt", body(b"version 2\n"), body(b"version 1\n"));
    // Replaced by a rename (a new inode), as a deploy does.
    std::fs::write(s.root.join("c.tmp"), b"version three\n").unwrap();
    std::fs::rename(s.root.join("c.tmp"), &path).unwrap();
    let r = served_soon(s, "/c.txt", body(b"version three\n"), body(b"version 2\n"));
    assert_eq!(r.header("content-length"), Some("14"));
    // Replaced by a symlink out of the root: refused once noticed, and
    // never anything but the old bytes before.
    std::fs::remove_file(&path).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", &path).unwrap();
    served_soon(s, "/c.txt", |r| r.status == 403, body(b"version three\n"));
    // Back to a regular file, then deleted.
    std::fs::remove_file(&path).unwrap();
    std::fs::write(&path, b"version 4\n").unwrap();
    served_soon(s, "/c.txt", body(b"version 4\n"), |r| r.status == 403);
    std::fs::remove_file(&path).unwrap();
    served_soon(s, "/c.txt", |r| r.status == 404, body(b"version 4\n"));
}

#[runtime::test]
async fn a_deleted_large_file_is_a_404_within_about_a_second() {
    // Sent zero-copy from the descriptor, not from kept bytes.
    let s = &start("deleted", &[]);
    let path = s.root.join("big.bin");
    let data = vec![7u8; 256 << 10];
    std::fs::write(&path, &data).unwrap();
    assert!(get(s, "/big.bin", "").body == data);
    assert!(get(s, "/big.bin", "").body == data);
    std::fs::remove_file(&path).unwrap();
    served_soon(
        s,
        "/big.bin",
        |r| r.status == 404,
        |r| r.status == 200 && r.body == data,
    );
}

#[runtime::test]
async fn with_revalidate_0_a_cached_open_file_is_never_served_stale() {
    let s = &start("cache", &["--revalidate-ms", "0"]);
    let path = s.root.join("c.txt");
    std::fs::write(&path, b"version 1\n").unwrap();
    assert_eq!(get(s, "/c.txt", "").body, b"version 1\n");
    assert_eq!(get(s, "/c.txt", "").body, b"version 1\n"); // from the table now
                                                           // Rewritten in place, same size.
    std::fs::write(&path, b"version 2\n").unwrap();
    assert_eq!(get(s, "/c.txt", "").body, b"version 2\n");
    // Replaced by a rename.
    std::fs::write(s.root.join("c.tmp"), b"version three\n").unwrap();
    std::fs::rename(s.root.join("c.tmp"), &path).unwrap();
    assert_eq!(get(s, "/c.txt", "").body, b"version three\n");
    // Replaced by a symlink out of the root: refused, not served from the table.
    std::fs::remove_file(&path).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", &path).unwrap();
    let r = get(s, "/c.txt", "");
    assert_eq!(r.status, 403);
    // Removed.
    std::fs::remove_file(&path).unwrap();
    assert_eq!(get(s, "/c.txt", "").status, 404);
}

/// The files under `root` that process `pid` holds open although they have
/// no name left (deleted, or replaced by a rename): their blocks stay used.
fn held_without_a_name(pid: u32, root: &std::path::Path) -> Vec<String> {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    fds.filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
        .map(|target| target.to_string_lossy().into_owned())
        .filter(|t| t.starts_with(&*root.to_string_lossy()) && t.ends_with(" (deleted)"))
        .collect()
}

#[runtime::test]
async fn deleted_and_replaced_files_are_let_go_without_another_request() {
    let s = &start("sweep", &[]);
    let (gone, replaced) = (s.root.join("gone.bin"), s.root.join("replaced.bin"));
    std::fs::write(&gone, vec![1u8; 64 << 10]).unwrap();
    std::fs::write(&replaced, vec![2u8; 64 << 10]).unwrap();
    for target in ["/gone.bin", "/replaced.bin"] {
        assert_eq!(get(s, target, "").status, 200);
        assert_eq!(get(s, target, "").status, 200); // from the open-file table
    }
    std::fs::remove_file(&gone).unwrap();
    std::fs::write(s.root.join("new.tmp"), b"new").unwrap();
    std::fs::rename(s.root.join("new.tmp"), &replaced).unwrap();
    // Neither is asked for again. A hang guard, not a deadline: the sweep
    // runs twice a second.
    let pid = s.child.id();
    let mut held = held_without_a_name(pid, &s.root);
    for _ in 0..6000 {
        if held.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
        held = held_without_a_name(pid, &s.root);
    }
    assert!(held.is_empty(), "still open a minute later: {held:?}");
    // And the replacement is what is served.
    assert_eq!(get(s, "/replaced.bin", "").body, b"new");
}
