//! Graceful shutdown of the file server on both drivers: on SIGTERM a slow
//! download in progress completes in full, new connections are refused, and
//! the exit status is 0; SIGINT on an idle server exits 0 at once.

use std::io::{BufReader, Read, Write};
use std::time::Duration;

#[path = "support/file_server.rs"]
mod server;
mod support;

use server::{connect, read_head, start};

#[runtime::test]
async fn sigterm_lets_a_slow_download_finish_and_exits_0() {
    let mut s = start("term", &["--workers", "2", "--grace-ms", "60000"]);
    let len: usize = 64 * 1024 * 1024;
    let data: Vec<u8> = (0..len).map(|i| (i / 4096) as u8).collect();
    std::fs::write(s.root.join("big.bin"), &data).unwrap();
    let c = connect(&s);
    write!(&c, "GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
    let mut r = BufReader::new(&c);
    assert_eq!(read_head(&mut r).status, 200);
    let mut body = vec![0; 1 << 20];
    r.read_exact(&mut body).unwrap();
    // 63 MiB to go, far more than the socket buffers hold: the response is in flight.
    s.signal(libc::SIGTERM);
    let notice = s.next_line();
    assert!(notice.starts_with("shutting down"), "{notice}");
    let refused = std::net::TcpStream::connect(&s.addr).unwrap_err();
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
    // Read the rest slowly.
    let mut chunk = vec![0; 4 << 20];
    while body.len() < len {
        let want = chunk.len().min(len - body.len());
        r.read_exact(&mut chunk[..want]).unwrap();
        body.extend_from_slice(&chunk[..want]);
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(body == data, "the download differs");
    // The server closes the connection after the response, then exits 0.
    let mut rest = Vec::new();
    assert_eq!(r.read_to_end(&mut rest).unwrap(), 0);
    let status = s.child.wait().unwrap();
    assert!(status.success(), "{status}");
}

#[runtime::test]
async fn sigint_on_an_idle_server_exits_0() {
    let mut s = start("int", &[]);
    // An idle keep-alive connection (served once, so surely accepted) does
    // not hold the shutdown up.
    let idle = connect(&s);
    write!(&idle, "GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
    let mut r = BufReader::new(&idle);
    assert_eq!(server::read_response(&mut r, false).status, 200);
    s.signal(libc::SIGINT);
    assert!(s.next_line().starts_with("shutting down"));
    let status = s.child.wait().unwrap();
    assert!(status.success(), "{status}");
    let mut buf = [0u8; 1];
    assert_eq!(r.read(&mut buf).unwrap(), 0, "closed by the server");
}
