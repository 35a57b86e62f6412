//! `examples/chat.rs` end to end, on both drivers: two clients send 5,000
//! lines each while a third only listens; the listener gets every line of
//! both, each sender's in order, though the server's read of each client
//! loses a `select!` to the broadcast channel over and over.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

mod support;

/// Lines each sending client writes.
const LINES: usize = 5_000;

/// The server process; killed on drop.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the chat server on `driver`; returns it and its address.
fn start(driver: &str) -> (Server, String) {
    let mut child = Command::new(support::example_binary("chat"))
        .args(["--addr", "127.0.0.1:0"])
        .env("RUNTIME_DRIVER", driver)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut banner = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut banner)
        .unwrap();
    let addr = banner
        .split("listening on ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .unwrap_or_else(|| panic!("unexpected banner: {banner:?}"))
        .to_string();
    let expected = if driver == "uring" {
        "io_uring"
    } else {
        "epoll"
    };
    assert!(banner.contains(expected), "{banner}");
    (Server(child), addr)
}

/// Reads `n` lines from `reader` on a thread.
fn read_lines(mut reader: BufReader<TcpStream>, n: usize) -> std::thread::JoinHandle<Vec<String>> {
    std::thread::spawn(move || {
        let mut lines = Vec::with_capacity(n);
        while lines.len() < n {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap() == 0 {
                break;
            }
            lines.push(line.trim_end().to_string());
        }
        lines
    })
}

/// The payloads (after `ID: `) of the lines one sender sent, in arrival order.
fn from_sender<'a>(lines: &'a [String], name: &str) -> Vec<&'a str> {
    lines
        .iter()
        .filter_map(|l| l.split_once(": ").map(|(_, text)| text))
        .filter(|text| text.starts_with(name))
        .collect()
}

fn every_line_reaches_the_listener(driver: &str) {
    if driver == "uring" && !uring_available() {
        return;
    }
    let (_server, addr) = start(driver);
    let (listener, a, b) = (
        TcpStream::connect(&addr).unwrap(),
        TcpStream::connect(&addr).unwrap(),
        TcpStream::connect(&addr).unwrap(),
    );
    // A line sent before a client joined is not meant to reach it: each
    // client waits for the server's welcome, sent once it is subscribed.
    let (mut heard_in, mut a_in, mut b_in) = (
        BufReader::new(listener),
        BufReader::new(a.try_clone().unwrap()),
        BufReader::new(b.try_clone().unwrap()),
    );
    for reader in [&mut heard_in, &mut a_in, &mut b_in] {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        assert!(line.starts_with("* welcome"), "{line:?}");
    }
    // Each sender also receives the other's lines: read them, so the
    // server never waits on a full socket.
    let heard = read_lines(heard_in, 2 * LINES);
    let (a_hears, b_hears) = (read_lines(a_in, LINES), read_lines(b_in, LINES));
    let senders: Vec<_> = [("a", a), ("b", b)]
        .into_iter()
        .map(|(name, mut stream)| {
            std::thread::spawn(move || {
                for i in 0..LINES {
                    writeln!(stream, "{name} {i}").unwrap();
                }
                stream
            })
        })
        .collect();
    let _streams: Vec<_> = senders.into_iter().map(|s| s.join().unwrap()).collect();
    let heard = heard.join().unwrap();
    assert_eq!(
        heard.len(),
        2 * LINES,
        "[{driver}] the listener got every line"
    );
    for name in ["a", "b"] {
        let expected: Vec<String> = (0..LINES).map(|i| format!("{name} {i}")).collect();
        assert_eq!(
            from_sender(&heard, name),
            expected,
            "[{driver}] {name}'s lines, in order"
        );
    }
    assert_eq!(from_sender(&a_hears.join().unwrap(), "b").len(), LINES);
    assert_eq!(from_sender(&b_hears.join().unwrap(), "a").len(), LINES);
}

/// Whether this machine runs io_uring (required where CI says so).
fn uring_available() -> bool {
    match runtime::Builder::new()
        .driver(runtime::DriverKind::Uring)
        .build()
    {
        Ok(_) => true,
        Err(e) if std::env::var_os("RUNTIME_REQUIRE_URING").is_some() => {
            panic!("io_uring required but unavailable: {e}")
        }
        Err(_) => false,
    }
}

mod two_clients_times_5000_lines_reach_a_third {
    #[test]
    fn uring() {
        super::every_line_reaches_the_listener("uring");
    }

    #[test]
    fn epoll() {
        super::every_line_reaches_the_listener("epoll");
    }
}
