//! TCP on both drivers: every public function of `TcpListener`, `TcpStream`,
//! its halves and `TcpSocket`, the owned-buffer I/O helpers, deadlines that
//! give the buffer back, and the failure cases (refused, reset, dead peer,
//! a socket closed with an op in flight, EMFILE and SIGPIPE in a child process).

mod support;

use std::future::Future;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd};
use std::pin::Pin;
use std::process::Command;
use std::time::{Duration, Instant};

use futures_core::Stream;
use runtime::buf::IoBuf;
use runtime::io::{copy, read_exact, read_to_end, ReadOwned, WriteOwned};
use runtime::net::{TcpListener, TcpSocket, TcpStream};
use runtime::DriverKind;
use support::{fd_count, tcp_pair};

/// A safety net for waits that should end quickly: a hang fails the test instead.
const NET: Duration = Duration::from_secs(10);

/// `fut`, or a panic naming `what` if it takes longer than [`NET`].
async fn within<F: std::future::Future>(what: &str, fut: F) -> F::Output {
    match runtime::time::timeout(NET, fut).await {
        Ok(v) => v,
        Err(_) => panic!("{what}: no progress within {NET:?}"),
    }
}

/// A pattern that shows where bytes came from.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

#[runtime::test]
async fn echo_roundtrip() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    assert_eq!(addr.ip(), std::net::Ipv4Addr::LOCALHOST);
    assert_ne!(addr.port(), 0);
    let server = runtime::spawn(async move {
        let (stream, peer) = listener.accept().await?;
        assert_eq!(stream.peer_addr()?, peer);
        let mut buf = Vec::with_capacity(64);
        loop {
            let (n, b) = stream.read(buf).await;
            let n = n?;
            if n == 0 {
                return Ok::<_, io::Error>(());
            }
            let (res, b) = stream.write_all(b.slice(..n)).await;
            res?;
            buf = b.into_inner();
            buf.clear();
        }
    });
    let client = TcpStream::connect(addr).await?;
    assert_eq!(client.peer_addr()?, addr);
    assert_eq!(client.local_addr()?.ip(), addr.ip());
    for msg in [&b"hello"[..], b"world", &[7u8; 64]] {
        let (res, _) = client.write_all(msg.to_vec()).await;
        res?;
        let (res, got) = read_exact(&mut &client, Vec::with_capacity(msg.len())).await;
        res?;
        assert_eq!(got, msg);
    }
    client.shutdown(Shutdown::Write).await?;
    within("server", server).await.unwrap()?;
    Ok(())
}

#[runtime::test]
async fn large_write_all_handles_short_writes() -> io::Result<()> {
    let (client, server) = tcp_pair().await;
    // Far more than the socket buffers hold, so sends come back short.
    let data = pattern(8 << 20);
    let reader = runtime::spawn(async move {
        let (n, got) = read_to_end(&mut &server, Vec::new()).await;
        n.map(|n| (n, got))
    });
    let (res, sent) = client.write_all(data).await;
    res?;
    client.shutdown(Shutdown::Write).await?;
    let (n, got) = within("reader", reader).await.unwrap()?;
    assert_eq!(n, sent.len());
    assert!(got == sent, "bytes differ");
    Ok(())
}

#[runtime::test]
async fn write_all_of_a_slice_sends_only_the_slice() -> io::Result<()> {
    let (client, server) = tcp_pair().await;
    let (res, buf) = client.write_all(b"hello world".to_vec().slice(6..)).await;
    res?;
    assert_eq!(buf.into_inner(), b"hello world");
    drop(client);
    let (n, got) = read_to_end(&mut &server, Vec::new()).await;
    assert_eq!(n?, 5);
    assert_eq!(got, b"world");
    Ok(())
}

#[runtime::test]
async fn split_halves_work_from_two_tasks() -> io::Result<()> {
    let (client, server) = tcp_pair().await;
    let (rd, wr) = server.into_split();
    assert_eq!(rd.local_addr()?, wr.local_addr()?);
    assert_eq!(rd.peer_addr()?, client.local_addr()?);
    assert_eq!(wr.peer_addr()?, client.local_addr()?);
    // The read half waits for data while the write half, in another task, sends.
    let reader = runtime::spawn(async move {
        let (res, buf) = read_exact(&mut &rd, Vec::with_capacity(5)).await;
        res.map(|()| (buf, rd))
    });
    let writer = runtime::spawn(async move {
        let (res, _) = wr.write_all(b"from the write half".to_vec()).await;
        res.map(|()| wr)
    });
    let (res, _) = client.write_all(b"ping!".to_vec()).await;
    res?;
    let (got, rd) = within("reader", reader).await.unwrap()?;
    assert_eq!(got, b"ping!");
    let wr = within("writer", writer).await.unwrap()?;
    let (res, got) = read_exact(&mut &client, vec![0u8; 19]).await;
    res?;
    assert_eq!(got, b"from the write half");

    // Halves of different streams do not reunite; the same ones do.
    let (other, _other_peer) = tcp_pair().await;
    let (ord, owr) = other.into_split();
    let err = rd.reunite(owr).unwrap_err();
    assert!(err.to_string().contains("different"));
    let (rd, owr) = (err.0, err.1);
    drop((ord, owr));
    let stream = rd.reunite(wr).expect("same stream");
    stream.shutdown(Shutdown::Write).await?;
    let (n, _) = client.read(vec![0u8; 8]).await;
    assert_eq!(n?, 0);
    Ok(())
}

#[runtime::test(workers = 2)]
async fn split_halves_move_to_another_worker() -> io::Result<()> {
    let (client, server) = tcp_pair().await;
    let (rd, wr) = server.into_split();
    // The halves are Send: the write half runs on worker 1.
    let remote = runtime::spawn_on(1, move || async move {
        let (res, _) = wr.write_all(b"remote".to_vec()).await;
        res
    });
    within("remote writer", remote).await.unwrap()?;
    let (res, got) = read_exact(&mut &client, vec![0u8; 6]).await;
    res?;
    assert_eq!(got, b"remote");
    drop(rd);
    Ok(())
}

#[runtime::test]
async fn peek_leaves_the_bytes_for_read() -> io::Result<()> {
    let (client, server) = tcp_pair().await;
    let (res, _) = client.write_all(b"abcdef".to_vec()).await;
    res?;
    let (n, peeked) = server.peek(vec![0u8; 3]).await;
    assert_eq!(n?, 3);
    assert_eq!(peeked, b"abc");
    let (res, got) = read_exact(&mut &server, vec![0u8; 6]).await;
    res?;
    assert_eq!(got, b"abcdef");

    // The read half peeks too.
    let (rd, _wr) = server.into_split();
    let (res, _) = client.write_all(b"xy".to_vec()).await;
    res?;
    let (n, peeked) = rd.peek(Vec::with_capacity(8)).await;
    assert!(n? >= 1);
    assert_eq!(peeked[0], b'x');
    Ok(())
}

#[runtime::test]
async fn shutdown_write_is_eof_at_the_peer() -> io::Result<()> {
    let (client, server) = tcp_pair().await;
    let (res, _) = client.write_all(b"last words".to_vec()).await;
    res?;
    client.shutdown(Shutdown::Write).await?;
    let (n, got) = read_to_end(&mut &server, Vec::new()).await;
    assert_eq!(n?, 10);
    assert_eq!(got, b"last words");
    // The other direction still works.
    let (res, _) = server.write_all(b"reply".to_vec()).await;
    res?;
    let (res, got) = read_exact(&mut &client, vec![0u8; 5]).await;
    res?;
    assert_eq!(got, b"reply");
    // Shutting down reading and both directions is fine too.
    server.shutdown(Shutdown::Read).await?;
    server.shutdown(Shutdown::Both).await?;

    // Through the trait and the write half.
    let (a, b) = tcp_pair().await;
    let (_ard, mut awr) = a.into_split();
    WriteOwned::shutdown(&mut awr).await?;
    let (n, _) = b.read(vec![0u8; 4]).await;
    assert_eq!(n?, 0);
    Ok(())
}

#[runtime::test]
async fn connect_to_a_closed_port_is_refused() -> io::Result<()> {
    let addr = {
        let l = TcpListener::bind("127.0.0.1:0")?;
        l.local_addr()?
    };
    let err = TcpStream::connect(addr).await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused, "{err}");
    let err = TcpSocket::new_v4()?.connect(addr).await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused, "{err}");
    // A list of addresses: the refused one is skipped.
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let good = listener.local_addr()?;
    let stream = TcpStream::connect(&[addr, good][..]).await?;
    assert_eq!(stream.peer_addr()?, good);
    // A string and an (ip, port) pair.
    let by_str = TcpStream::connect(good.to_string()).await?;
    let by_pair = TcpStream::connect((good.ip(), good.port())).await?;
    assert_eq!(by_str.peer_addr()?, by_pair.peer_addr()?);
    Ok(())
}

#[runtime::test]
async fn bad_addresses_are_errors_not_panics() {
    assert!(TcpListener::bind("not an address").is_err());
    assert!(TcpListener::bind("127.0.0.1:99999").is_err());
    // A host name goes through the lookup (on the blocking pool); "localhost"
    // needs no DNS. Whichever of ::1 and 127.0.0.1 comes first, one connects.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let by_name = TcpStream::connect(format!("localhost:{port}"))
        .await
        .unwrap();
    assert_eq!(by_name.peer_addr().unwrap().port(), port);
    let by_pair = TcpStream::connect(("localhost", port)).await.unwrap();
    assert_eq!(by_pair.peer_addr().unwrap().port(), port);
    let empty: &[SocketAddr] = &[];
    let err = TcpStream::connect(empty).await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    let err = TcpListener::bind(empty).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    // Binding a port in use.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let err = TcpListener::bind(l.local_addr().unwrap()).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
}

#[runtime::test]
async fn incoming_yields_connections() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let mut incoming = listener.incoming();
    let mut clients = Vec::new();
    for i in 0..5u8 {
        let client = TcpStream::connect(addr).await?;
        let (res, _) = client.write_all(vec![i]).await;
        res?;
        clients.push(client);
    }
    for i in 0..5u8 {
        let stream = within("incoming", incoming.next())
            .await
            .expect("never ends")?;
        let (res, got) = read_exact(&mut &stream, vec![0u8; 1]).await;
        res?;
        assert_eq!(got, [i]);
    }
    // Through the Stream trait, as a futures user polls it.
    let client = TcpStream::connect(addr).await?;
    let next = std::future::poll_fn(|cx| Pin::new(&mut incoming).poll_next(cx));
    let stream = within("poll_next", next).await.expect("never ends")?;
    assert_eq!(stream.peer_addr()?, client.local_addr()?);
    Ok(())
}

#[runtime::test]
async fn dropped_incoming_closes_what_it_accepted() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let mut clients = Vec::new();
    for _ in 0..4 {
        clients.push(TcpStream::connect(addr).await?);
    }
    {
        let mut incoming = listener.incoming();
        let first = within("incoming", incoming.next())
            .await
            .expect("never ends")?;
        drop(first);
        // Let io_uring's multishot accept take the others into its queue.
        runtime::task::yield_now().await;
    }
    // Every client either was accepted (and closed: EOF or reset) by the
    // dropped stream, or is still in the backlog for the next accept.
    let mut waiting = 0;
    for client in &clients {
        let (res, _) = client
            .read(vec![0u8; 1])
            .timeout(Duration::from_millis(200))
            .await;
        match res {
            Ok(0) => {}
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {}
            Err(e) if e.kind() == io::ErrorKind::TimedOut => waiting += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    for _ in 0..waiting {
        within("accept the rest", listener.accept()).await?;
    }
    if runtime::driver_kind() == DriverKind::Epoll {
        // epoll accepts one per poll: the rest were never taken.
        assert_eq!(waiting, 3);
    }
    Ok(())
}

#[runtime::test]
async fn nodelay_and_linger() -> io::Result<()> {
    let (client, server) = tcp_pair().await;
    assert!(!client.nodelay()?);
    client.set_nodelay(true)?;
    assert!(client.nodelay()?);
    client.set_nodelay(false)?;
    assert!(!client.nodelay()?);

    assert_eq!(client.linger()?, None);
    client.set_linger(Some(Duration::from_millis(1500)))?;
    assert_eq!(client.linger()?, Some(Duration::from_secs(2)));
    client.set_linger(None)?;
    assert_eq!(client.linger()?, None);

    // A zero linger resets the connection on close.
    server.set_linger(Some(Duration::ZERO))?;
    assert_eq!(server.linger()?, Some(Duration::ZERO));
    drop(server);
    let (res, _) = within("read", client.read(vec![0u8; 8])).await;
    assert_eq!(res.unwrap_err().kind(), io::ErrorKind::ConnectionReset);
    Ok(())
}

#[runtime::test]
async fn readv_and_writev() -> io::Result<()> {
    let (client, server) = tcp_pair().await;
    let bufs = vec![
        b"one ".to_vec(),
        Vec::new(),
        b"two ".to_vec(),
        b"three".to_vec(),
    ];
    let (n, bufs) = client.writev(bufs).await;
    assert_eq!(n?, 13);
    assert_eq!(bufs[3], b"three");
    client.shutdown(Shutdown::Write).await?;

    let mut got = Vec::new();
    loop {
        let (n, bufs) = server
            .readv(vec![Vec::with_capacity(3), Vec::with_capacity(4)])
            .await;
        let n = n?;
        if n == 0 {
            break;
        }
        assert_eq!(bufs[0].len() + bufs[1].len(), n);
        assert!(bufs[1].is_empty() || bufs[0].len() == 3, "filled in order");
        got.extend(bufs.concat());
    }
    assert_eq!(got, b"one two three");

    // The halves and the traits' vectored methods.
    let (a, b) = tcp_pair().await;
    let (mut ard, mut awr) = a.into_split();
    let (mut brd, bwr) = b.into_split();
    let (n, _) = WriteOwned::writev(&mut awr, vec![b"ab".to_vec(), b"cd".to_vec()]).await;
    assert_eq!(n?, 4);
    let (res, got) = read_exact(&mut brd, vec![0u8; 4]).await;
    res?;
    assert_eq!(got, b"abcd");
    let (n, _) = bwr.writev(vec![&b"xyz"[..]]).await;
    assert_eq!(n?, 3);
    let (n, bufs) = ReadOwned::readv(&mut ard, vec![vec![0u8; 1], vec![0u8; 8]]).await;
    let n = n?;
    assert!((1..=3).contains(&n));
    assert_eq!(bufs[0], b"x");
    Ok(())
}

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
    let (n, got) = server.read(Vec::with_capacity(8)).timeout(NET).await;
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
    let chunk = pattern(256 * 1024);
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
    assert_eq!(buf, pattern(256 * 1024));
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

#[runtime::test]
async fn writing_to_a_dead_peer_is_an_error() -> io::Result<()> {
    let (client, server) = tcp_pair().await;
    drop(server);
    // The first send may still be accepted locally; the peer then answers with
    // a reset, and later sends fail.
    let mut last = None;
    for _ in 0..64 {
        let (res, _) = client.write(vec![1u8; 1024]).await;
        if let Err(e) = res {
            last = Some(e);
            break;
        }
        let (res, _) = client.read(vec![0u8; 16]).await;
        if let Err(e) = res {
            assert_eq!(e.kind(), io::ErrorKind::ConnectionReset);
        }
    }
    let err = last.expect("a send to a closed peer kept succeeding");
    assert!(
        matches!(
            err.kind(),
            io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
        ),
        "{err}"
    );
    Ok(())
}

#[runtime::test]
async fn closing_with_a_read_in_flight() -> io::Result<()> {
    let (client, server) = tcp_pair().await;
    let baseline = fd_count();

    // 1. The stream is dropped (in another task) while a read is in flight:
    //    the read keeps the socket open and still completes.
    let read = server.read(Vec::with_capacity(16));
    let reader = runtime::spawn(read);
    runtime::task::yield_now().await;
    runtime::spawn(async move { drop(server) }).await.unwrap();
    let (res, _) = client.write_all(b"late".to_vec()).await;
    res?;
    let (n, got) = within("in-flight read", reader).await.unwrap();
    assert_eq!(n?, 4);
    assert_eq!(got, b"late");
    // Now the last user is gone: the socket is closed and the peer sees EOF.
    let (n, _) = within("eof", client.read(vec![0u8; 4])).await;
    assert_eq!(n?, 0);

    // 2. A read that never completes is aborted with the stream dropped: the
    //    kernel cancels it, the socket closes, nothing hangs.
    let (client, server) = tcp_pair().await;
    let reader = runtime::spawn(server.read(vec![0u8; 16]));
    runtime::task::yield_now().await;
    drop(server);
    reader.abort();
    assert!(within("aborted", reader).await.is_err());
    let (n, _) = within("eof after abort", client.read(vec![0u8; 4])).await;
    assert_eq!(n?, 0);
    drop(client);
    // Other tests run in parallel, so the count only bounds leaks loosely.
    assert!(fd_count() <= baseline + 64);
    Ok(())
}

#[runtime::test]
async fn dropped_accept_leaks_nothing() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    // Poll an accept once (submitting it), then drop it.
    let mut accept = listener.accept();
    let polled = std::future::poll_fn(|cx| {
        let _ = Pin::new(&mut accept).poll(cx);
        std::task::Poll::Ready(())
    });
    polled.await;
    drop(accept);
    let client = TcpStream::connect(addr).await?;
    // Either the cancelled accept took the connection (and closed it), or
    // the next accept gets it.
    let (res, _) = client
        .read(vec![0u8; 1])
        .timeout(Duration::from_millis(200))
        .await;
    match res {
        Ok(0) => {}
        Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {}
        Err(e) if e.kind() == io::ErrorKind::TimedOut => {
            let (stream, peer) = within("accept", listener.accept()).await?;
            assert_eq!(peer, client.local_addr()?);
            drop(stream);
        }
        other => panic!("unexpected {other:?}"),
    }
    Ok(())
}

#[runtime::test]
async fn io_helpers_over_streams() -> io::Result<()> {
    let (a, b) = tcp_pair().await;
    let (c, d) = tcp_pair().await;
    // a -> b, copied by a task into c -> d.
    let mut b2 = b;
    let mut c2 = c;
    let relay = runtime::spawn(async move {
        let n = copy(&mut b2, &mut c2).await;
        WriteOwned::shutdown(&mut c2).await.map(|()| n)
    });
    let data = pattern(300_000);
    let mut a2 = a;
    let (res, data) = WriteOwned::write_all(&mut a2, data).await;
    res?;
    WriteOwned::flush(&mut a2).await?;
    let (n, _) = WriteOwned::write(&mut a2, b"!".to_vec()).await;
    assert_eq!(n?, 1);
    a2.shutdown(Shutdown::Write).await?;
    let mut d2 = d;
    let (n, got) = read_to_end(&mut d2, b"prefix".to_vec()).await;
    assert_eq!(n?, data.len() + 1);
    assert_eq!(&got[..6], b"prefix");
    assert_eq!(&got[6..data.len() + 6], &data[..]);
    let copied = within("relay", relay).await.unwrap()??;
    assert_eq!(copied, data.len() as u64 + 1);

    // read_exact: end of stream first is UnexpectedEof, with what arrived.
    let (x, y) = tcp_pair().await;
    let (res, _) = x.write_all(b"abc".to_vec()).await;
    res?;
    drop(x);
    let mut y = y;
    let (res, buf) = read_exact(&mut y, Vec::with_capacity(10)).await;
    assert_eq!(res.unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
    assert_eq!(buf, b"abc");
    let (n, _) = ReadOwned::read(&mut y, vec![0u8; 4]).await;
    assert_eq!(n?, 0);
    Ok(())
}

#[runtime::test]
async fn std_conversions() -> io::Result<()> {
    // Listener: from std (non-blocking, even), into std, raw fds.
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    std_listener.set_nonblocking(true)?;
    let listener = TcpListener::from_std(std_listener)?;
    let addr = listener.local_addr()?;
    assert!(listener.as_raw_fd() >= 0);
    let listener = TcpListener::try_from(listener.into_std()?)?;
    let raw = listener.into_raw_fd();
    // SAFETY: `into_raw_fd` handed us ownership of this listening socket.
    let listener = TcpListener::from_std(unsafe { std::net::TcpListener::from_raw_fd(raw) })?;
    assert_eq!(listener.local_addr()?, addr);

    // Stream: from a std stream connected by std, into std and back.
    let std_stream = std::net::TcpStream::connect(addr)?;
    std_stream.set_nonblocking(true)?;
    let (server, _) = within("accept", listener.accept()).await?;
    let client = TcpStream::try_from(std_stream)?;
    let (res, _) = client.write_all(b"std".to_vec()).await;
    res?;
    let (res, got) = read_exact(&mut &server, vec![0u8; 3]).await;
    res?;
    assert_eq!(got, b"std");
    let std_client = client.into_std()?;
    let fd = std_client.as_raw_fd();
    let client = TcpStream::from_std(std_client)?;
    assert_eq!(client.as_raw_fd(), fd);
    let raw = client.into_raw_fd();
    // SAFETY: `into_raw_fd` handed us ownership of this socket.
    let client = TcpStream::from_std(unsafe { std::net::TcpStream::from_raw_fd(raw) })?;
    let (res, _) = client.write_all(b"!".to_vec()).await;
    res?;

    // into_std while a dropped read may still hold the socket: still works.
    let read = runtime::spawn(server.read(vec![0u8; 1]));
    runtime::task::yield_now().await;
    read.abort();
    let _ = read.await;
    let std_server = server.into_std()?;
    drop(std_server);
    Ok(())
}

#[runtime::test]
async fn tcp_socket_options_then_listen_and_connect() -> io::Result<()> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    assert!(socket.reuseaddr()?);
    socket.set_reuseport(true)?;
    assert!(socket.reuseport()?);
    socket.set_recv_buffer_size(64 * 1024)?;
    assert!(socket.recv_buffer_size()? >= 64 * 1024);
    socket.set_send_buffer_size(32 * 1024)?;
    assert!(socket.send_buffer_size()? >= 32 * 1024);
    socket.set_nodelay(true)?;
    socket.set_linger(None)?;
    socket.bind("127.0.0.1:0".parse().unwrap())?;
    let addr = socket.local_addr()?;
    assert!(socket.as_raw_fd() >= 0);
    let listener = socket.listen(16)?;
    assert_eq!(listener.local_addr()?, addr);

    // A second listener on the same port, thanks to SO_REUSEPORT.
    let twin = TcpSocket::new_v4()?;
    twin.set_reuseport(true)?;
    twin.bind(addr)?;
    let twin = twin.listen(16)?;
    drop(twin);

    let client = TcpSocket::new_v4()?;
    client.set_nodelay(true)?;
    let stream = client.connect(addr).await?;
    assert!(stream.nodelay()?);
    let (_server, peer) = within("accept", listener.accept()).await?;
    assert_eq!(peer, stream.local_addr()?);

    let unused = TcpSocket::new_v4()?;
    let raw = unused.into_raw_fd();
    // SAFETY: `into_raw_fd` handed us this descriptor; closing it is ours to do.
    drop(unsafe { std::os::fd::OwnedFd::from_raw_fd(raw) });
    Ok(())
}

#[runtime::test]
async fn ipv6_loopback_when_available() -> io::Result<()> {
    let Ok(listener) = TcpListener::bind("[::1]:0") else {
        eprintln!("no IPv6 loopback here; skipped");
        return Ok(());
    };
    let addr = listener.local_addr()?;
    assert!(addr.is_ipv6());
    let accept = runtime::spawn(async move { listener.accept().await });
    let socket = TcpSocket::new_v6()?;
    let client = socket.connect(addr).await?;
    let (server, peer) = within("accept", accept).await.unwrap()?;
    assert_eq!(peer, client.local_addr()?);
    let (res, _) = server.write_all(b"v6".to_vec()).await;
    res?;
    let (res, got) = read_exact(&mut &client, vec![0u8; 2]).await;
    res?;
    assert_eq!(got, b"v6");
    Ok(())
}

#[runtime::test]
async fn many_concurrent_connections_on_one_worker() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let server = runtime::spawn(async move {
        let mut incoming = listener.incoming();
        for _ in 0..200 {
            let stream = incoming.next().await.expect("never ends")?;
            drop(runtime::spawn(async move {
                let (n, buf) = stream.read(Vec::with_capacity(64)).await;
                if let Ok(n) = n {
                    let _ = stream.write_all(buf.slice(..n)).await;
                }
            }));
        }
        Ok::<_, io::Error>(())
    });
    let mut clients = Vec::new();
    for _ in 0..200 {
        clients.push(runtime::spawn(async move {
            let s = TcpStream::connect(addr).await?;
            let (res, _) = s.write_all(b"hi".to_vec()).await;
            res?;
            let (res, got) = read_exact(&mut &s, vec![0u8; 2]).await;
            res?;
            assert_eq!(got, b"hi");
            Ok::<_, io::Error>(s)
        }));
    }
    for c in clients {
        within("client", c).await.unwrap()?;
    }
    within("server", server).await.unwrap()?;
    Ok(())
}

/// The work of a child process, chosen by `NET_TCP_CHILD` (`role:driver`).
/// Without the variable (a normal test run) this test does nothing.
#[test]
fn child_process_entry() {
    let Ok(spec) = std::env::var("NET_TCP_CHILD") else {
        return;
    };
    let (role, driver) = spec.split_once(':').expect("role:driver");
    let kind = match driver {
        "uring" => DriverKind::Uring,
        _ => DriverKind::Epoll,
    };
    let rt = match runtime::Builder::new().driver(kind).build() {
        Ok(rt) => rt,
        Err(e) if kind == DriverKind::Uring => {
            println!("CHILD-SKIPPED: {e}");
            return;
        }
        Err(e) => panic!("runtime: {e}"),
    };
    match role {
        "sigpipe" => rt.block_on(child_sigpipe()),
        "emfile" => rt.block_on(child_emfile()),
        other => panic!("unknown child role {other}"),
    }
}

/// Runs `child_process_entry` as `role` on `driver` in a new process and
/// returns its stdout, after checking it exited normally.
fn run_child(role: &str, driver: &str) -> Option<String> {
    let exe = std::env::current_exe().expect("test binary");
    let out = Command::new(exe)
        .args([
            "child_process_entry",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("NET_TCP_CHILD", format!("{role}:{driver}"))
        .output()
        .expect("spawn child");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            out.status.signal(),
            None,
            "[{driver}] child {role} killed by a signal\n{stdout}\n{stderr}"
        );
    }
    assert!(
        out.status.success(),
        "[{driver}] child {role} failed\n{stdout}\n{stderr}"
    );
    if stdout.contains("CHILD-SKIPPED") {
        let required = std::env::var("RUNTIME_REQUIRE_URING").is_ok_and(|v| v == "1");
        assert!(!required, "io_uring required but unavailable: {stdout}");
        eprintln!("skipped on {driver}: {stdout}");
        return None;
    }
    assert!(
        stdout.contains("CHILD-OK"),
        "[{driver}] {role}: no result\n{stdout}\n{stderr}"
    );
    Some(stdout)
}

/// With `SIGPIPE` at its default (terminate), sends to a dead peer must fail
/// with `EPIPE`/`ECONNRESET` and the process must live.
async fn child_sigpipe() {
    // SAFETY: resetting a signal disposition to its default is always sound.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let mut errors = 0;
    for _ in 0..3 {
        let (client, server) = tcp_pair().await;
        server.set_linger(Some(Duration::ZERO)).unwrap();
        drop(server);
        let (client_rd, client_wr) = client.into_split();
        for step in 0..64 {
            let res = match step % 3 {
                0 => client_wr.write(vec![1u8; 4096]).await.0,
                1 => {
                    client_wr
                        .writev(vec![vec![2u8; 100], vec![3u8; 100]])
                        .await
                        .0
                }
                _ => client_wr.write_all(vec![4u8; 8192]).await.0.map(|()| 1),
            };
            if let Err(e) = res {
                assert!(
                    matches!(
                        e.kind(),
                        io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
                    ),
                    "unexpected error {e}"
                );
                errors += 1;
                if e.kind() == io::ErrorKind::BrokenPipe {
                    break;
                }
            }
        }
        drop(client_rd);
    }
    assert!(errors >= 3, "sends to dead peers kept succeeding");
    println!("CHILD-OK sigpipe errors={errors}");
}

mod sigpipe_never_kills {
    use super::*;

    #[test]
    fn uring() {
        run_child("sigpipe", "uring");
    }

    #[test]
    fn epoll() {
        run_child("sigpipe", "epoll");
    }
}

/// Sets the soft `RLIMIT_NOFILE`.
fn set_fd_limit(soft: u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid rlimit for the kernel to fill.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
    lim.rlim_cur = soft.min(lim.rlim_max);
    // SAFETY: `lim` is a valid rlimit.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) }, 0);
}

/// CPU time (user + system) of this process.
fn cpu_time() -> Duration {
    // SAFETY: all zeroes is a valid rusage; the kernel fills it.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a valid rusage for the kernel to fill.
    assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) }, 0);
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// Out of descriptors: `accept` reports EMFILE, `incoming` reports it and
/// backs off (few failed accepts a second, little CPU), then recovers.
async fn child_emfile() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // Waiting connections, made while descriptors are still available.
    let clients: Vec<_> = {
        let mut v = Vec::new();
        for _ in 0..2 {
            v.push(TcpStream::connect(addr).await.unwrap());
        }
        v
    };
    // Not one more descriptor may be opened: lower the limit to the highest
    // open one, then fill any lower holes.
    set_fd_limit(highest_fd() + 1);
    let mut fillers = Vec::new();
    while let Ok(f) = std::fs::File::open("/dev/null") {
        fillers.push(f);
    }

    let err = within("accept", listener.accept()).await.unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EMFILE), "{err}");

    let mut incoming = listener.incoming();
    let window = Duration::from_secs(1);
    let (start, cpu0) = (Instant::now(), cpu_time());
    let mut failures = 0u64;
    let deadline = runtime::time::sleep(window);
    let mut deadline = std::pin::pin!(deadline);
    loop {
        let next = std::future::poll_fn(|cx| {
            if deadline.as_mut().poll(cx).is_ready() {
                return std::task::Poll::Ready(None);
            }
            Pin::new(&mut incoming).poll_next(cx).map(Some)
        });
        match next.await {
            None => break,
            Some(Some(Err(e))) => {
                assert_eq!(e.raw_os_error(), Some(libc::EMFILE), "{e}");
                failures += 1;
            }
            Some(other) => panic!("accepted with no descriptors left: {other:?}"),
        }
    }
    let (wall, cpu) = (start.elapsed(), cpu_time() - cpu0);
    let per_sec = failures as f64 / wall.as_secs_f64();
    let cpu_share = cpu.as_secs_f64() / wall.as_secs_f64();
    println!(
        "failed accepts/s {per_sec:.1}, cpu {:.2}%",
        cpu_share * 100.0
    );
    assert!(failures >= 1, "the error was never reported");
    assert!(per_sec < 100.0, "{per_sec:.1} failed accepts a second");
    assert!(
        cpu_share < 0.05,
        "{:.1}% CPU while out of descriptors",
        cpu_share * 100.0
    );

    // Descriptors again: the stream recovers and delivers the waiting clients.
    set_fd_limit(u64::MAX);
    drop(fillers);
    for _ in 0..clients.len() {
        let stream = within("recovered", incoming.next()).await.unwrap().unwrap();
        drop(stream);
    }
    println!("CHILD-OK emfile");
}

/// The highest open descriptor number of this process.
fn highest_fd() -> u64 {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u64>().ok())
        .max()
        .unwrap_or(2)
}

mod emfile_backs_off {
    use super::*;

    #[test]
    fn uring() {
        if let Some(out) = run_child("emfile", "uring") {
            eprintln!("{out}");
        }
    }

    #[test]
    fn epoll() {
        if let Some(out) = run_child("emfile", "epoll") {
            eprintln!("{out}");
        }
    }
}

/// Data and the peer's close queued together: a short read must not make the
/// epoll driver wait for an edge that already came (the close is in the queue).
#[runtime::test]
async fn data_then_close_reads_the_data_then_eof() {
    let listener = runtime::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let peer = std::thread::spawn(move || {
        use std::io::Write as _;
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.write_all(b"0123456789").unwrap();
    });
    let (stream, _) = listener.accept().await.unwrap();
    peer.join().unwrap(); // data and FIN are both queued before the first read
    let (n, buf) = stream.read(vec![0u8; 64]).await;
    assert_eq!(n.unwrap(), 10);
    let (n, _) = stream.read(buf).await;
    assert_eq!(n.unwrap(), 0, "EOF after the data");
}
