//! Deadlines on TCP operations, on both drivers: a read, write, accept or
//! connect that times out is `TimedOut` and gives its buffers back, and the
//! stream stays usable.

mod support;

use std::io;
use std::time::Duration;

use runtime::io::read_exact;
use runtime::net::{TcpListener, TcpSocket, TcpStream};
use support::{pattern, tcp_pair, LIMIT};

#[runtime::test]
async fn read_timeout_returns_the_buffer() -> io::Result<()> {
    let (client, server) = tcp_pair().await;
    let mut buf = Vec::with_capacity(32);
    buf.extend_from_slice(b"keep");
    let (res, buf) = server.read(buf).timeout(Duration::from_millis(20)).await;
    assert_eq!(res.unwrap_err().kind(), io::ErrorKind::TimedOut);
    assert_eq!(buf, b"keep");
    assert_eq!(buf.capacity(), 32);

    // Data that arrives before the deadline is a normal result.
    let (res, _) = client.write_all(b"data".to_vec()).await;
    res?;
    let (n, got) = server.read(Vec::with_capacity(8)).timeout(LIMIT).await;
    assert_eq!(n?, 4);
    assert_eq!(got, b"data");

    // Vectored and half reads time out the same way.
    let (res, bufs) = server
        .readv(vec![vec![1u8; 2]])
        .timeout(Duration::from_millis(10))
        .await;
    assert_eq!(res.unwrap_err().kind(), io::ErrorKind::TimedOut);
    assert_eq!(bufs, [vec![1u8; 2]]);

    // A plain `time::timeout` around a read is safe: the buffer is dropped
    // when the kernel lets go, and the stream stays usable.
    let res = runtime::time::timeout(Duration::from_millis(10), server.read(vec![0u8; 8])).await;
    assert!(res.is_err());
    let (res, _) = client.write_all(b"again".to_vec()).await;
    res?;
    let (res, got) = read_exact(&mut &server, vec![0u8; 5]).await;
    res?;
    assert_eq!(got, b"again");
    Ok(())
}

#[runtime::test]
async fn write_timeout_returns_the_buffer() -> io::Result<()> {
    let (client, _server) = tcp_pair().await;
    // The peer never reads: sends succeed until the socket buffers are full,
    // then one times out and hands the buffer back.
    let chunk = pattern(256 * 1024, 0);
    let mut buf = chunk;
    let mut timed_out = false;
    for _ in 0..1024 {
        let (res, b) = client.write(buf).timeout(Duration::from_millis(50)).await;
        buf = b;
        match res {
            Ok(n) => assert!(n > 0),
            Err(e) => {
                assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{e}");
                timed_out = true;
                break;
            }
        }
    }
    assert!(timed_out, "the socket buffers never filled up");
    assert_eq!(buf, pattern(256 * 1024, 0));
    // The kernel may still make room (buffers grow); a vectored write times
    // out the same way once they are full again.
    let mut bufs = vec![vec![9u8; 1 << 20]];
    for _ in 0..1024 {
        let (res, b) = client.writev(bufs).timeout(Duration::from_millis(20)).await;
        bufs = b;
        match res {
            Ok(n) => assert!(n > 0),
            Err(e) => {
                assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{e}");
                assert_eq!(bufs, [vec![9u8; 1 << 20]]);
                return Ok(());
            }
        }
    }
    panic!("the vectored write never timed out")
}

#[runtime::test]
async fn accept_and_connect_time_out() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let err = listener
        .accept()
        .timeout(Duration::from_millis(10))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::TimedOut);

    // A listener that never accepts and has a backlog of 0: once its queue is
    // full the kernel drops further SYNs, so a connect waits until its deadline.
    let socket = TcpSocket::new_v4()?;
    socket.bind("127.0.0.1:0".parse().unwrap())?;
    let full = socket.listen(0)?;
    let addr = full.local_addr()?;
    let mut held = Vec::new();
    let mut timed_out = false;
    for _ in 0..16 {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(100)).await {
            Ok(s) => held.push(s),
            Err(e) => {
                assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{e}");
                timed_out = true;
                break;
            }
        }
    }
    assert!(timed_out, "every connect to a full backlog succeeded");
    let err = TcpSocket::new_v4()?
        .connect(addr)
        .timeout(Duration::from_millis(20))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    Ok(())
}
