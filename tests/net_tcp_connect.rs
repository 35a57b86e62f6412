//! Connecting and accepting on both drivers: refused connects, bad
//! addresses, `incoming`, dropped accepts and streams of accepts that lose
//! no connection, IPv6 loopback, and many connections on one worker.

mod support;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

use futures_core::Stream;
use runtime::buf::IoBuf;
use runtime::io::read_exact;
use runtime::net::{TcpListener, TcpSocket, TcpStream};
use runtime::DriverKind;
use support::within;

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
