//! Connecting and accepting on both drivers: refused connects, bad
//! addresses, `incoming`, dropped accepts and streams of accepts that lose
//! no connection, IPv6 loopback, and many connections on one worker.

mod support;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;

use futures_core::Stream;
use runtime::buf::IoBuf;
use runtime::io::read_exact;
use runtime::net::{TcpListener, TcpSocket, TcpStream};
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

/// Dropping an `Incoming` loses no connection: on io_uring its multishot
/// accept may already have moved the waiting ones into the listener's queue,
/// on epoll they are still in the kernel's backlog; either way the next
/// accepts get them.
#[runtime::test]
async fn dropped_incoming_loses_no_connection() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let mut clients = Vec::new();
    for _ in 0..4 {
        clients.push(TcpStream::connect(addr).await?);
    }
    let mut accepted = Vec::new();
    {
        let mut incoming = listener.incoming();
        let first = within("incoming", incoming.next())
            .await
            .expect("never ends")?;
        accepted.push(first.peer_addr()?);
        // Let io_uring's multishot accept take the others into the queue.
        runtime::task::yield_now().await;
    }
    for _ in 1..clients.len() {
        let (stream, peer) = within("accept the rest", listener.accept()).await?;
        assert_eq!(stream.peer_addr()?, peer);
        accepted.push(peer);
    }
    let mut connected = clients
        .iter()
        .map(|c| c.local_addr())
        .collect::<io::Result<Vec<_>>>()?;
    accepted.sort();
    connected.sort();
    assert_eq!(accepted, connected, "every client accepted once");
    Ok(())
}

/// An accept polled once (on io_uring: its listener's multishot armed) and
/// dropped loses no connection: the next accept gets it.
#[runtime::test]
async fn dropped_accept_loses_no_connection() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let mut accept = listener.accept();
    let polled = std::future::poll_fn(|cx| {
        let _ = Pin::new(&mut accept).poll(cx);
        std::task::Poll::Ready(())
    });
    polled.await;
    drop(accept);
    let client = TcpStream::connect(addr).await?;
    let (stream, peer) = within("accept", listener.accept()).await?;
    assert_eq!(peer, client.local_addr()?);
    let (res, _) = client.write_all(b"still here".to_vec()).await;
    res?;
    let (res, got) = read_exact(&mut &stream, vec![0u8; 10]).await;
    res?;
    assert_eq!(got, b"still here");
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
