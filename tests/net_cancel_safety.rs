//! Nothing lost on drop, on both drivers: reads, `recv_from` and `accept`
//! futures dropped at every point (a `select!` that another branch won, a
//! `timeout` that fired) lose no byte, datagram or connection, and reorder
//! nothing: the next call returns what the kernel already delivered.
//!
//! On io_uring the kernel performs the receives. By default a stream's
//! bytes arrive by multishot receive into the socket's queue, where a
//! dropped read leaves them; with `recv_buffers(0, _)` each read is a
//! one-shot receive into its own buffer, and one dropped after the kernel
//! filled it is adopted by the socket's queue. Both paths are run here.

use std::io;
use std::time::Duration;

mod support;

use runtime::net::{TcpListener, TcpStream, UdpSocket};
use runtime::time::{sleep, timeout};
use tokio::sync::mpsc;

/// Lines the TCP tests send.
const LINES: usize = 20_000;
/// Datagrams the UDP test sends.
const DATAGRAMS: u32 = 10_000;
/// Connections the accept test makes.
const CONNECTIONS: u32 = 2_000;

/// A connected pair on loopback: (client, server side).
async fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let accept = runtime::spawn(async move { listener.accept().await.unwrap().0 });
    let client = TcpStream::connect(addr).await.unwrap();
    (client, accept.await.unwrap())
}

/// Writes `LINES` numbered lines, a few at a time, then shuts down.
async fn write_lines(stream: TcpStream) -> io::Result<()> {
    let mut i = 0;
    while i < LINES {
        let mut chunk = String::new();
        for _ in 0..(1 + i % 7).min(LINES - i) {
            chunk.push_str(&format!("line {i}\n"));
            i += 1;
        }
        stream.write_all(chunk.into_bytes()).await.0?;
        if i % 64 < 7 {
            runtime::task::yield_now().await;
        }
    }
    stream.shutdown(std::net::Shutdown::Write).await
}

/// Checks that `got` is exactly the lines `write_lines` sent, in order.
fn check_lines(got: &[u8]) {
    let text = std::str::from_utf8(got).expect("utf-8");
    let mut n = 0;
    for (i, line) in text.lines().enumerate() {
        assert_eq!(line, format!("line {i}"), "line {i} lost or out of order");
        n += 1;
    }
    assert_eq!(n, LINES, "every line arrived");
}

/// A channel that fires every few microseconds until `stop`ped (dropped).
fn ticker() -> mpsc::UnboundedReceiver<u64> {
    let (tx, rx) = mpsc::unbounded_channel();
    drop(runtime::spawn(async move {
        let mut n = 0u64;
        while tx.send(n).is_ok() {
            n += 1;
            runtime::task::yield_now().await;
        }
    }));
    rx
}

#[runtime::test]
async fn a_read_losing_select_to_a_busy_channel_loses_no_byte() {
    read_lines_racing_a_channel().await;
}

/// The same with no provided buffers: on io_uring every read is a one-shot
/// receive into its own buffer, and reads the kernel had filled when
/// `select!` dropped them are adopted by the socket, in order.
#[test]
fn a_oneshot_read_losing_select_loses_no_byte() {
    support::on_each_driver(
        |b| b.recv_buffers(0, 1024),
        |kind| async move {
            read_lines_racing_a_channel().await;
            if kind == runtime::DriverKind::Uring {
                let adopted = runtime::metrics()[0].receives_adopted;
                assert!(adopted > 0, "no dropped read had its bytes adopted");
            }
        },
    );
}

/// Reads `LINES` lines in a `select!` against a channel that wins often.
async fn read_lines_racing_a_channel() {
    let (client, server) = tcp_pair().await;
    let writer = runtime::spawn(write_lines(client));
    let mut ticks = ticker();
    let (mut got, mut lost_races) = (Vec::new(), 0u64);
    loop {
        tokio::select! {
            (res, buf) = server.read(Vec::with_capacity(256)) => {
                match res.unwrap() {
                    0 => break,
                    n => got.extend_from_slice(&buf[..n]),
                }
            }
            Some(_) = ticks.recv() => lost_races += 1,
        }
    }
    writer.await.unwrap().unwrap();
    check_lines(&got);
    assert!(lost_races > 0, "the channel branch never won");
}

#[runtime::test]
async fn a_read_under_a_1ms_timeout_in_a_loop_loses_no_byte() {
    let (client, server) = tcp_pair().await;
    let writer = runtime::spawn(async move {
        // Paced, so timeouts fire while the socket is empty and mid-stream.
        let mut i = 0;
        while i < LINES {
            let end = (i + 500).min(LINES);
            let chunk: String = (i..end).map(|j| format!("line {j}\n")).collect();
            client.write_all(chunk.into_bytes()).await.0?;
            i = end;
            sleep(Duration::from_millis(2)).await;
        }
        client.shutdown(std::net::Shutdown::Write).await
    });
    let (mut got, mut timeouts) = (Vec::new(), 0u64);
    loop {
        match timeout(
            Duration::from_millis(1),
            server.read(Vec::with_capacity(1024)),
        )
        .await
        {
            Ok((res, buf)) => match res.unwrap() {
                0 => break,
                n => got.extend_from_slice(&buf[..n]),
            },
            Err(_) => timeouts += 1,
        }
    }
    writer.await.unwrap().unwrap();
    check_lines(&got);
    assert!(timeouts > 0, "no read ever timed out");
}

#[runtime::test]
async fn recv_from_losing_select_loses_no_datagram() {
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let to = rx.local_addr().unwrap();
    let sender = runtime::spawn(async move {
        for i in 0..DATAGRAMS {
            let (res, _) = tx.send_to(i.to_le_bytes().to_vec(), to).await;
            res.unwrap();
            // Paced: a burst never outgrows the receive buffer.
            if i % 32 == 31 {
                sleep(Duration::from_millis(1)).await;
            }
        }
    });
    let mut ticks = ticker();
    let (mut next, mut lost_races) = (0u32, 0u64);
    while next < DATAGRAMS {
        tokio::select! {
            (res, buf) = rx.recv_from(Vec::with_capacity(16)) => {
                let (n, _) = res.unwrap();
                let got = u32::from_le_bytes(buf[..n].try_into().unwrap());
                assert_eq!(got, next, "datagram {next} lost or out of order");
                next += 1;
            }
            Some(_) = ticks.recv() => lost_races += 1,
        }
    }
    sender.await.unwrap();
    assert!(lost_races > 0, "the channel branch never won");
}

#[runtime::test]
async fn accept_racing_a_timer_loses_no_connection() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let clients = runtime::spawn(async move {
        for id in 0..CONNECTIONS {
            let stream = TcpStream::connect(addr).await?;
            stream.write_all(id.to_le_bytes().to_vec()).await.0?;
            // The server answers on every connection: it was accepted and usable.
            let (res, buf) = runtime::io::read_exact(&mut &stream, vec![0u8; 4]).await;
            res?;
            assert_eq!(u32::from_le_bytes(buf[..].try_into().unwrap()), id);
        }
        io::Result::Ok(())
    });
    let (mut accepted, mut lost_races) = (0u32, 0u64);
    while accepted < CONNECTIONS {
        tokio::select! {
            res = listener.accept() => {
                let (stream, _) = res.unwrap();
                accepted += 1;
                drop(runtime::spawn(async move {
                    let (res, buf) = runtime::io::read_exact(&mut &stream, vec![0u8; 4]).await;
                    res.unwrap();
                    stream.write_all(buf).await.0.unwrap();
                }));
            }
            _ = sleep(Duration::from_micros(50)) => lost_races += 1,
        }
    }
    clients.await.unwrap().unwrap();
    assert!(lost_races > 0, "the timer never won");
}
