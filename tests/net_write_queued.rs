//! `write_queued`: sends nobody waits for, on both drivers. Bytes go out in
//! the order they were queued, and after them the bytes of direct writes
//! made later and a shutdown; `flush_queued` waits for all of them; the
//! error of a failed send reaches the next caller once; a full queue makes
//! writers wait, never grows without bound.

use runtime::net::{TcpListener, TcpStream};

/// A connected pair on loopback: (client, server side).
async fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let accept = runtime::spawn(async move { listener.accept().await.unwrap().0 });
    let client = TcpStream::connect(addr).await.unwrap();
    (client, accept.await.unwrap())
}

/// Reads until end of stream.
async fn read_to_end(stream: &TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    loop {
        let buf = stream.recv_buf().await.unwrap();
        if buf.is_empty() {
            return got;
        }
        got.extend_from_slice(&buf);
    }
}

#[runtime::test]
async fn queued_then_direct_writes_arrive_in_order_before_the_shutdown() {
    let (client, server) = tcp_pair().await;
    let reader = runtime::spawn(async move { read_to_end(&server).await });
    let mut want = Vec::new();
    for i in 0..2_000u32 {
        let chunk = format!("queued {i}\n").into_bytes();
        want.extend_from_slice(&chunk);
        client.write_queued(chunk).await.unwrap();
    }
    // Direct writes made now go out after everything queued.
    let direct = b"direct\n".to_vec();
    want.extend_from_slice(&direct);
    client.write_all(direct).await.0.unwrap();
    for i in 0..100u32 {
        let chunk = format!("again {i}\n").into_bytes();
        want.extend_from_slice(&chunk);
        client.write_queued(chunk).await.unwrap();
    }
    client.shutdown(std::net::Shutdown::Write).await.unwrap();
    assert_eq!(reader.await.unwrap(), want);
}

#[runtime::test]
async fn flush_queued_waits_for_every_byte() {
    let (client, server) = tcp_pair().await;
    // More than the socket buffers take, so the queue fills and drains.
    let total = 8 << 20;
    let reader = runtime::spawn(async move {
        let mut n = 0;
        while n < total {
            let buf = server.recv_buf().await.unwrap();
            assert!(!buf.is_empty(), "end of stream after {n} bytes");
            assert!(buf.iter().all(|&b| b == 7));
            n += buf.len();
        }
        n
    });
    for _ in 0..total / 65_536 {
        client.write_queued(vec![7u8; 65_536]).await.unwrap();
    }
    client.flush_queued().await.unwrap();
    assert_eq!(reader.await.unwrap(), total);
}

#[runtime::test]
async fn a_failed_send_is_reported_once() {
    let (client, server) = tcp_pair().await;
    // The peer goes away with unread bytes: it answers with a reset.
    server.write_all(b"unread".to_vec()).await.0.unwrap();
    client.set_linger(Some(std::time::Duration::ZERO)).unwrap();
    drop(client);
    let mut attempts = 0;
    let err = loop {
        attempts += 1;
        assert!(attempts < 1_000, "no error after {attempts} writes");
        if let Err(e) = server.write_queued(vec![1u8; 1024]).await {
            break e;
        }
        if let Err(e) = server.flush_queued().await {
            break e;
        }
    };
    assert!(
        matches!(
            err.kind(),
            std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
        ),
        "{err:?}"
    );
    // Reported once: the queue is usable (and fails afresh) afterwards.
    let _ = server.flush_queued().await;
}

#[runtime::test]
async fn a_full_queue_makes_the_writer_wait() {
    let (client, server) = tcp_pair().await;
    // Nobody reads yet: the socket buffers fill, then the queue's 64 KiB.
    let writer = runtime::spawn(async move {
        for _ in 0..1_000 {
            client.write_queued(vec![3u8; 16 * 1024]).await.unwrap();
        }
        client.shutdown(std::net::Shutdown::Write).await.unwrap();
    });
    for _ in 0..50 {
        runtime::task::yield_now().await;
    }
    assert!(!writer.is_finished(), "16 MiB cannot all be queued");
    let got = read_to_end(&server).await;
    assert_eq!(got.len(), 1_000 * 16 * 1024);
    writer.await.unwrap();
}
