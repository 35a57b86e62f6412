//! `recv_buf`: a stream's bytes handed over without a copy (on io_uring,
//! the worker's provided buffer the kernel filled), on both drivers: the
//! bytes are right and in order, a `RecvBuf` can be sent on as it is, end
//! of stream is an empty one, a dropped call loses nothing, and holding more
//! `RecvBuf`s than the worker has provided buffers still works (later reads
//! receive into buffers of their own).

use std::time::Duration;

use runtime::buf::RecvBuf;
use runtime::net::{TcpListener, TcpStream};

mod support;

/// A connected pair on loopback: (client, server side).
async fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let accept = runtime::spawn(async move { listener.accept().await.unwrap().0 });
    let client = TcpStream::connect(addr).await.unwrap();
    (client, accept.await.unwrap())
}

/// Reads with `recv_buf` until end of stream.
async fn recv_all(stream: &TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    loop {
        let buf = stream.recv_buf().await.unwrap();
        if buf.is_empty() {
            return got;
        }
        got.extend_from_slice(&buf);
    }
}

/// `len` bytes of a pattern that shows any reordering.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

#[runtime::test]
async fn bytes_arrive_in_order_and_end_of_stream_is_empty() {
    let (client, server) = tcp_pair().await;
    let data = pattern(300_000);
    let sent = data.clone();
    let writer = runtime::spawn(async move {
        for chunk in sent.chunks(7_000) {
            client.write_all(chunk.to_vec()).await.0.unwrap();
        }
        client.shutdown(std::net::Shutdown::Write).await.unwrap();
    });
    assert_eq!(recv_all(&server).await, data);
    writer.await.unwrap();
    // End of stream stays end of stream.
    assert!(server.recv_buf().await.unwrap().is_empty());
}

#[runtime::test]
async fn a_recv_buf_is_sent_on_as_it_is() {
    let (client, server) = tcp_pair().await;
    let echo = runtime::spawn(async move {
        loop {
            let buf: RecvBuf = server.recv_buf().await.unwrap();
            if buf.is_empty() {
                return;
            }
            let (res, _) = server.write_all(buf).await;
            res.unwrap();
        }
    });
    let data = pattern(100_000);
    let (res, _) = client.write_all(data.clone()).await;
    res.unwrap();
    let (res, got) = runtime::io::read_exact(&mut &client, vec![0u8; data.len()]).await;
    res.unwrap();
    assert_eq!(got, data);
    client.shutdown(std::net::Shutdown::Write).await.unwrap();
    echo.await.unwrap();
}

#[runtime::test]
async fn a_recv_buf_losing_a_race_loses_nothing() {
    let (client, server) = tcp_pair().await;
    let data = pattern(200_000);
    let sent = data.clone();
    let writer = runtime::spawn(async move {
        for chunk in sent.chunks(1_000) {
            client.write_all(chunk.to_vec()).await.0.unwrap();
            runtime::task::yield_now().await;
        }
        client.shutdown(std::net::Shutdown::Write).await.unwrap();
    });
    let (mut got, mut timeouts) = (Vec::new(), 0);
    loop {
        match server.recv_buf().timeout(Duration::from_micros(50)).await {
            Ok(buf) if buf.is_empty() => break,
            Ok(buf) => got.extend_from_slice(&buf),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => timeouts += 1,
            Err(e) => panic!("{e}"),
        }
    }
    writer.await.unwrap();
    assert_eq!(got, data, "every byte once, in order ({timeouts} timeouts)");
}

/// More `RecvBuf`s held than the worker has provided buffers (two of 1 KiB
/// here): the reads after those receive into buffers of their own, and
/// giving the held ones back makes them available again.
#[test]
fn holding_more_than_the_pool_still_reads() {
    support::on_each_driver(
        |b| b.recv_buffers(2, 1024),
        |_| async {
            let mut pairs = Vec::new();
            for _ in 0..6 {
                pairs.push(tcp_pair().await);
            }
            for (i, (client, _)) in pairs.iter().enumerate() {
                client.write_all(vec![i as u8; 600]).await.0.unwrap();
            }
            let mut held = Vec::new();
            for (i, (_, server)) in pairs.iter().enumerate() {
                let mut got = Vec::new();
                while got.len() < 600 {
                    let buf = server.recv_buf().await.unwrap();
                    got.extend_from_slice(&buf);
                    held.push(buf);
                }
                assert_eq!(got, vec![i as u8; 600], "connection {i}");
            }
            drop(held);
            // The buffers are back: more reads work the same.
            for (i, (client, server)) in pairs.iter().enumerate() {
                client.write_all(vec![!(i as u8); 100]).await.0.unwrap();
                let buf = server.recv_buf().await.unwrap();
                assert_eq!(&buf[..], &vec![!(i as u8); 100][..]);
            }
        },
    );
}

#[test]
fn without_provided_buffers_reads_receive_into_their_own() {
    support::on_each_driver(
        |b| b.recv_buffers(0, 1024),
        |_| async {
            let (client, server) = tcp_pair().await;
            let data = pattern(50_000);
            let sent = data.clone();
            let writer = runtime::spawn(async move {
                client.write_all(sent).await.0.unwrap();
                client.shutdown(std::net::Shutdown::Write).await.unwrap();
            });
            assert_eq!(recv_all(&server).await, data);
            writer.await.unwrap();
        },
    );
}

#[runtime::test]
async fn a_recv_buf_dropped_on_another_thread_goes_back() {
    let (client, server) = tcp_pair().await;
    for round in 0..600u32 {
        client
            .write_all(round.to_le_bytes().to_vec())
            .await
            .0
            .unwrap();
        let buf = server.recv_buf().await.unwrap();
        assert_eq!(&buf[..], &round.to_le_bytes()[..]);
        // Dropped elsewhere: the worker takes it back, so 600 rounds never
        // run out of its 256 buffers (a read would get a `Vec` then).
        let kind = format!("{buf:?}");
        assert!(kind.contains("pooled"), "round {round}: {kind}");
        std::thread::spawn(move || drop(buf)).join().unwrap();
    }
}
