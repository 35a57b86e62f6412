//! Unix-domain sockets on both drivers: `UnixListener`, `UnixStream` (and its
//! halves), `UnixDatagram`; pathname, abstract and unnamed addresses, errors,
//! vanished peers, and message truncation.

mod support;

use std::io;
use std::net::Shutdown;
use std::os::fd::AsRawFd;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::SocketAddr;
use std::time::Duration;

use runtime::buf::IoBuf;
use runtime::io::{ReadOwned, WriteOwned};
use runtime::net::{UnixDatagram, UnixListener, UnixStream};
use support::{unique_name, TempPath};

/// A fresh abstract address (no file, gone with the socket).
fn abstract_addr() -> SocketAddr {
    SocketAddr::from_abstract_name(unique_name("runtime-test").as_bytes()).unwrap()
}

/// A connected stream pair through a pathname listener: (client, server).
async fn connected(path: &TempPath) -> (UnixStream, UnixStream, UnixListener) {
    let listener = UnixListener::bind(path).unwrap();
    let client = UnixStream::connect(path).await.unwrap();
    let (server, _) = listener.accept().await.unwrap();
    (client, server, listener)
}

// ---- UnixStream -------------------------------------------------------------

#[runtime::test]
async fn stream_pair_roundtrip() {
    let (a, b) = UnixStream::pair().unwrap();
    let (res, buf) = a.write(b"hello".to_vec()).await;
    assert_eq!(res.unwrap(), 5);
    assert_eq!(buf, b"hello");
    let (n, buf) = b.read(Vec::with_capacity(16)).await;
    assert_eq!(n.unwrap(), 5);
    assert_eq!(buf, b"hello");
    // Both ends of a pair are unnamed.
    assert!(a.local_addr().unwrap().is_unnamed());
    assert!(a.peer_addr().unwrap().is_unnamed());
}

#[runtime::test]
async fn stream_over_pathname() {
    let path = TempPath::new("unix-stream");
    let (client, server, listener) = connected(&path).await;
    assert_eq!(listener.local_addr().unwrap().as_pathname(), Some(&*path));
    assert_eq!(client.peer_addr().unwrap().as_pathname(), Some(&*path));
    assert_eq!(server.local_addr().unwrap().as_pathname(), Some(&*path));
    assert!(client.local_addr().unwrap().is_unnamed());
    assert!(server.peer_addr().unwrap().is_unnamed());

    let (res, _) = client.write_all(b"ping".to_vec()).await;
    res.unwrap();
    let (n, buf) = server.read(vec![0u8; 8]).await;
    assert_eq!(&buf[..n.unwrap()], b"ping");
    let (res, _) = server.write_all(b"pong".to_vec()).await;
    res.unwrap();
    let (n, buf) = client.read(vec![0u8; 8]).await;
    assert_eq!(&buf[..n.unwrap()], b"pong");
}

#[runtime::test]
async fn stream_over_abstract_address() {
    let addr = abstract_addr();
    let listener = UnixListener::bind_addr(&addr).unwrap();
    let name = addr.as_abstract_name().unwrap();
    assert_eq!(
        listener.local_addr().unwrap().as_abstract_name(),
        Some(name)
    );
    let client = UnixStream::connect_addr(&addr).await.unwrap();
    let (server, peer) = listener.accept().await.unwrap();
    assert!(peer.is_unnamed());
    assert_eq!(client.peer_addr().unwrap().as_abstract_name(), Some(name));
    let (res, _) = client.write_all(&b"abstract"[..]).await;
    res.unwrap();
    let (n, buf) = server.read(Vec::with_capacity(16)).await;
    assert_eq!(n.unwrap(), 8);
    assert_eq!(buf, b"abstract");
    // The name is taken while the listener lives.
    let err = UnixListener::bind_addr(&addr).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
}

#[runtime::test]
async fn abstract_names_may_hold_any_bytes() {
    let name = format!("{}\0with\0nuls", unique_name("runtime-test"));
    let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let listener = UnixListener::bind_addr(&addr).unwrap();
    let client = UnixStream::connect_addr(&addr).await.unwrap();
    let (_server, _) = listener.accept().await.unwrap();
    let seen = client.peer_addr().unwrap();
    assert_eq!(seen.as_abstract_name(), Some(name.as_bytes()));
}

#[runtime::test]
async fn stale_socket_file() {
    // A listener that went away leaves its file: binding the path again is
    // `AddrInUse`, connecting to it is `ConnectionRefused`.
    let path = TempPath::new("stale");
    drop(UnixListener::bind(&path).unwrap());
    assert!(path.exists());
    let err = UnixListener::bind(&path).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
    let err = UnixStream::connect(&path).await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
    // Removing the file frees the path.
    std::fs::remove_file(&path).unwrap();
    let _listener = UnixListener::bind(&path).unwrap();
    let _client = UnixStream::connect(&path).await.unwrap();
}

#[runtime::test]
async fn connect_errors_are_errors() {
    let missing = TempPath::new("missing");
    let err = UnixStream::connect(&missing).await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
    let err = UnixStream::connect("bad\0path").await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    let long = "x".repeat(200);
    let err = UnixStream::connect(&long).await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    let err = UnixStream::connect_addr(&abstract_addr())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
    // A datagram socket's path is not a stream listener.
    let dgram_path = TempPath::new("dgram");
    let _d = UnixDatagram::bind(&dgram_path).unwrap();
    assert!(UnixStream::connect(&dgram_path).await.is_err());
}

#[runtime::test]
async fn bind_errors_are_errors() {
    let path = TempPath::new("taken");
    let _l = UnixListener::bind(&path).unwrap();
    let err = UnixListener::bind(&path).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
    let err = UnixListener::bind("nul\0byte").unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    let err = UnixListener::bind("y".repeat(300)).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    let err = UnixListener::bind("/nonexistent-dir/for/sure.sock").unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
}

#[runtime::test]
async fn large_write_all_arrives_whole() {
    let (a, b) = UnixStream::pair().unwrap();
    let data: Vec<u8> = (0..4 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let expected = data.clone();
    // The socket buffer is far smaller, so the writer must wait for the reader.
    let writer = runtime::spawn(async move {
        let (res, _) = a.write_all(data).await;
        res
    });
    let mut got = Vec::with_capacity(expected.len());
    while got.len() < expected.len() {
        let (n, buf) = b.read(Vec::with_capacity(64 * 1024)).await;
        assert_ne!(n.unwrap(), 0, "early end of stream");
        got.extend_from_slice(&buf);
    }
    writer.await.unwrap().unwrap();
    assert!(got == expected);
}

#[runtime::test]
async fn readv_and_writev() {
    let (a, b) = UnixStream::pair().unwrap();
    let (n, bufs) = a
        .writev(vec![b"ab".to_vec(), Vec::new(), b"cde".to_vec()])
        .await;
    assert_eq!(n.unwrap(), 5);
    assert_eq!(bufs.len(), 3);
    let (n, bufs) = b
        .readv(vec![Vec::with_capacity(2), Vec::with_capacity(8)])
        .await;
    assert_eq!(n.unwrap(), 5);
    assert_eq!(bufs[0], b"ab");
    assert_eq!(bufs[1], b"cde");
}

#[runtime::test]
async fn peek_leaves_the_bytes() {
    let (a, b) = UnixStream::pair().unwrap();
    let (res, _) = a.write_all(&b"peekaboo"[..]).await;
    res.unwrap();
    let (n, buf) = b.peek(vec![0u8; 4]).await;
    assert_eq!((n.unwrap(), &buf[..]), (4, &b"peek"[..]));
    let (n, buf) = b.read(vec![0u8; 16]).await;
    assert_eq!(&buf[..n.unwrap()], b"peekaboo");
}

#[runtime::test]
async fn shutdown_write_is_end_of_stream() {
    let (a, b) = UnixStream::pair().unwrap();
    let (res, _) = a.write_all(&b"last"[..]).await;
    res.unwrap();
    a.shutdown(Shutdown::Write).await.unwrap();
    let (n, buf) = b.read(vec![0u8; 8]).await;
    assert_eq!(&buf[..n.unwrap()], b"last");
    let (n, _) = b.read(vec![0u8; 8]).await;
    assert_eq!(n.unwrap(), 0);
    // Writing after our own shutdown is an error, not a signal.
    let (res, _) = a.write(&b"more"[..]).await;
    assert_eq!(res.unwrap_err().kind(), io::ErrorKind::BrokenPipe);
    // The other direction still works.
    let (res, _) = b.write_all(&b"reply"[..]).await;
    res.unwrap();
    let (n, buf) = a.read(vec![0u8; 8]).await;
    assert_eq!(&buf[..n.unwrap()], b"reply");
    b.shutdown(Shutdown::Both).await.unwrap();
    a.shutdown(Shutdown::Read).await.unwrap();
}

#[runtime::test]
async fn vanished_peer_is_end_of_stream_then_broken_pipe() {
    let (a, b) = UnixStream::pair().unwrap();
    let (res, _) = b.write_all(&b"bye"[..]).await;
    res.unwrap();
    drop(b);
    // What was sent before the peer went is still delivered, then EOF.
    let (n, buf) = a.read(vec![0u8; 8]).await;
    assert_eq!(&buf[..n.unwrap()], b"bye");
    let (n, _) = a.read(vec![0u8; 8]).await;
    assert_eq!(n.unwrap(), 0);
    let (res, buf) = a.write(b"anyone?".to_vec()).await;
    assert_eq!(res.unwrap_err().kind(), io::ErrorKind::BrokenPipe);
    assert_eq!(buf, b"anyone?");
    let (res, _) = a.write_all(&b"anyone?"[..]).await;
    assert_eq!(res.unwrap_err().kind(), io::ErrorKind::BrokenPipe);
    let (n, _) = a.writev(vec![&b"x"[..]]).await;
    assert_eq!(n.unwrap_err().kind(), io::ErrorKind::BrokenPipe);
}

#[runtime::test]
async fn blocked_read_sees_end_of_stream_when_peer_closes() {
    let (a, b) = UnixStream::pair().unwrap();
    let reader = runtime::spawn(async move { a.read(vec![0u8; 8]).await });
    runtime::task::yield_now().await;
    drop(b);
    let (n, _) = reader.await.unwrap();
    assert_eq!(n.unwrap(), 0);
}

#[runtime::test]
async fn read_timeout_returns_the_buffer() {
    let (a, _b) = UnixStream::pair().unwrap();
    // Nothing is ever written, so the deadline always wins.
    let (res, buf) = a.read(vec![1u8; 4]).timeout(Duration::from_millis(5)).await;
    assert_eq!(res.unwrap_err().kind(), io::ErrorKind::TimedOut);
    assert_eq!(buf, [1u8; 4]);
}

#[runtime::test]
async fn split_halves_in_two_tasks_and_reunite() {
    let (a, b) = UnixStream::pair().unwrap();
    let (rd, wr) = a.into_split();
    assert!(rd.local_addr().unwrap().is_unnamed());
    assert!(rd.peer_addr().unwrap().is_unnamed());
    assert!(wr.local_addr().unwrap().is_unnamed());
    assert!(wr.peer_addr().unwrap().is_unnamed());
    // The read half waits in its own task while this one writes.
    let reader = runtime::spawn(async move {
        let (n, buf) = rd.read(Vec::with_capacity(8)).await;
        assert_eq!(n.unwrap(), 4);
        (rd, buf)
    });
    runtime::task::yield_now().await;
    let (res, _) = b.write_all(&b"half"[..]).await;
    res.unwrap();
    let (rd, buf) = reader.await.unwrap();
    assert_eq!(buf, b"half");
    let (res, _) = b.write_all(&b"xyz"[..]).await;
    res.unwrap();
    let (n, buf) = rd.peek(vec![0u8; 1]).await;
    assert_eq!((n.unwrap(), &buf[..]), (1, &b"x"[..]));
    let (n, bufs) = rd
        .readv(vec![Vec::with_capacity(2), Vec::with_capacity(1)])
        .await;
    assert_eq!(n.unwrap(), 3);
    assert_eq!((&bufs[0][..], &bufs[1][..]), (&b"xy"[..], &b"z"[..]));

    let (res, _) = wr.write_all(&b"back"[..]).await;
    res.unwrap();
    let (n, _) = wr.writev(vec![&b"!"[..]]).await;
    assert_eq!(n.unwrap(), 1);
    let (res, _) = wr.write(&b"?"[..]).await;
    assert_eq!(res.unwrap(), 1);
    let mut got = Vec::new();
    while got.len() < 6 {
        let (n, buf) = b.read(Vec::with_capacity(8)).await;
        assert_ne!(n.unwrap(), 0);
        got.extend_from_slice(&buf);
    }
    assert_eq!(got, b"back!?");
    wr.shutdown().await.unwrap();
    let (n, _) = b.read(vec![0u8; 1]).await;
    assert_eq!(n.unwrap(), 0);

    // Halves of different streams do not reunite, and come back unchanged.
    let (other_rd, other_wr) = UnixStream::pair().unwrap().0.into_split();
    let err = rd.reunite(other_wr).unwrap_err();
    assert!(err.to_string().contains("different"));
    let rd = err.0;
    let stream = rd.reunite(wr).unwrap();
    assert!(stream.as_raw_fd() >= 0);
    drop(other_rd);
}

#[runtime::test]
async fn owned_io_traits_and_copy() {
    let (a, mut b) = UnixStream::pair().unwrap();
    let (mut c, mut d) = UnixStream::pair().unwrap();
    let (mut a_rd, mut a_wr) = a.into_split();
    // Generic code through the traits: b -> a -> (copy) -> c -> d.
    let pump = runtime::spawn(async move {
        let n = runtime::io::copy(&mut a_rd, &mut c).await;
        WriteOwned::shutdown(&mut c).await.unwrap();
        n
    });
    let (res, _) = WriteOwned::write_all(&mut b, b"through the pump".to_vec()).await;
    res.unwrap();
    WriteOwned::shutdown(&mut b).await.unwrap();
    let (res, buf) = runtime::io::read_to_end(&mut d, Vec::new()).await;
    assert_eq!(res.unwrap(), 16);
    assert_eq!(buf, b"through the pump");
    assert_eq!(pump.await.unwrap().unwrap(), 16);
    // The other direction of the first pair is still open.
    let (res, _) = WriteOwned::write(&mut a_wr, &b"x"[..]).await;
    res.unwrap();
    let (n, _) = WriteOwned::writev(&mut a_wr, vec![&b"yz"[..]]).await;
    assert_eq!(n.unwrap(), 2);
    let (res, buf) = runtime::io::read_exact(&mut b, vec![0u8; 1]).await;
    res.unwrap();
    assert_eq!(buf, b"x");
    let (n, bufs) = ReadOwned::readv(&mut b, vec![Vec::with_capacity(2)]).await;
    assert_eq!(n.unwrap(), 2);
    assert_eq!(bufs[0], b"yz");
}

#[runtime::test]
async fn from_std_and_into_std() {
    let (x, y) = std::os::unix::net::UnixStream::pair().unwrap();
    x.set_nonblocking(true).unwrap();
    let a = UnixStream::from_std(x).unwrap();
    let b = UnixStream::try_from(y).unwrap();
    // A read that must wait, on a socket std left non-blocking.
    let reader = runtime::spawn(async move { a.read(vec![0u8; 4]).await.0.map(|_| a) });
    runtime::task::yield_now().await;
    let (res, _) = b.write_all(&b"std!"[..]).await;
    res.unwrap();
    let a = reader.await.unwrap().unwrap();
    let std_a = a.into_std().unwrap();
    std_a.set_nonblocking(false).unwrap();
    drop(b);
    let mut rest = Vec::new();
    std::io::Read::read_to_end(&mut &std_a, &mut rest).unwrap();
    assert!(rest.is_empty());
}

// ---- UnixListener -----------------------------------------------------------

#[runtime::test]
async fn incoming_yields_connections() {
    let addr = abstract_addr();
    let listener = UnixListener::bind_addr(&addr).unwrap();
    let mut incoming = listener.incoming();
    let mut clients = Vec::new();
    for i in 0..5u8 {
        let client = UnixStream::connect_addr(&addr).await.unwrap();
        let (res, _) = client.write_all(vec![i]).await;
        res.unwrap();
        clients.push(client);
    }
    for i in 0..5u8 {
        let server = incoming.next().await.unwrap().unwrap();
        let (n, buf) = server.read(vec![0u8; 1]).await;
        assert_eq!((n.unwrap(), buf[0]), (1, i));
    }
    // The stream can be dropped and a new one (or a plain accept) used.
    drop(incoming);
    let _late = UnixStream::connect_addr(&addr).await.unwrap();
    let (_server, _) = listener.accept().await.unwrap();
}

#[runtime::test]
async fn accept_waits_for_a_client() {
    let addr = abstract_addr();
    let listener = UnixListener::bind_addr(&addr).unwrap();
    let task = runtime::spawn(async move { listener.accept().await.map(|(s, _)| s) });
    runtime::task::yield_now().await;
    let client = UnixStream::connect_addr(&addr).await.unwrap();
    let server = task.await.unwrap().unwrap();
    let (res, _) = server.write_all(&b"hi"[..]).await;
    res.unwrap();
    let (n, buf) = client.read(vec![0u8; 4]).await;
    assert_eq!(&buf[..n.unwrap()], b"hi");
}

#[runtime::test]
async fn accept_timeout_keeps_the_listener_usable() {
    let addr = abstract_addr();
    let listener = UnixListener::bind_addr(&addr).unwrap();
    // No client ever connects before the deadline.
    let err = listener
        .accept()
        .timeout(Duration::from_millis(5))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    let dropped = runtime::time::timeout(Duration::from_millis(5), listener.accept()).await;
    assert!(dropped.is_err());
    let _client = UnixStream::connect_addr(&addr).await.unwrap();
    let (_server, _) = listener.accept().await.unwrap();
    assert!(listener.take_error().unwrap().is_none());
}

#[runtime::test]
async fn listener_from_std_and_into_std() {
    let path = TempPath::new("std-listener");
    let std_listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    std_listener.set_nonblocking(true).unwrap();
    let listener = UnixListener::try_from(std_listener).unwrap();
    let accept = runtime::spawn(async move {
        let res = listener.accept().await.map(drop);
        (res, listener)
    });
    runtime::task::yield_now().await;
    let _client = UnixStream::connect(&path).await.unwrap();
    let (res, listener) = accept.await.unwrap();
    res.unwrap();
    let std_listener = listener.into_std().unwrap();
    assert_eq!(
        std_listener.local_addr().unwrap().as_pathname(),
        Some(&*path)
    );
    let listener = UnixListener::from_std(std_listener).unwrap();
    assert!(format!("{listener:?}").contains("UnixListener"));
    assert!(listener.as_raw_fd() >= 0);
}

// ---- UnixDatagram -----------------------------------------------------------

#[runtime::test]
async fn datagram_pair_roundtrip() {
    let (a, b) = UnixDatagram::pair().unwrap();
    let (n, buf) = a.send(b"one".to_vec()).await;
    assert_eq!(n.unwrap(), 3);
    assert_eq!(buf, b"one");
    let (n, _) = a.send(b"two!".to_vec()).await;
    n.unwrap();
    // Message boundaries are kept.
    let (n, buf) = b.recv(Vec::with_capacity(16)).await;
    assert_eq!((n.unwrap(), &buf[..]), (3, &b"one"[..]));
    let (res, buf) = b.recv_from(Vec::with_capacity(16)).await;
    let (n, from) = res.unwrap();
    assert_eq!((n, &buf[..]), (4, &b"two!"[..]));
    assert!(from.is_unnamed());
    assert!(a.local_addr().unwrap().is_unnamed());
    assert!(a.peer_addr().unwrap().is_unnamed());
}

#[runtime::test]
async fn datagram_send_to_pathname() {
    let (pa, pb) = (TempPath::new("dg-a"), TempPath::new("dg-b"));
    let a = UnixDatagram::bind(&pa).unwrap();
    let b = UnixDatagram::bind(&pb).unwrap();
    assert_eq!(a.local_addr().unwrap().as_pathname(), Some(&*pa));
    let (n, _) = a.send_to(b"to b".to_vec(), &pb).await;
    assert_eq!(n.unwrap(), 4);
    let (res, buf) = b.recv_from(vec![0u8; 16]).await;
    let (n, from) = res.unwrap();
    assert_eq!(&buf[..n], b"to b");
    assert_eq!(from.as_pathname(), Some(&*pa));
    // Reply to the address the message came from.
    let (n, _) = b.send_to_addr(b"to a".to_vec(), &from).await;
    n.unwrap();
    let (res, buf) = a.recv_from(vec![0u8; 16]).await;
    let (n, from) = res.unwrap();
    assert_eq!((&buf[..n], from.as_pathname()), (&b"to a"[..], Some(&*pb)));
}

#[runtime::test]
async fn datagram_abstract_and_unbound() {
    let addr = abstract_addr();
    let server = UnixDatagram::bind_addr(&addr).unwrap();
    assert_eq!(
        server.local_addr().unwrap().as_abstract_name(),
        addr.as_abstract_name()
    );
    let client = UnixDatagram::unbound().unwrap();
    assert!(client.local_addr().unwrap().is_unnamed());
    let (n, _) = client.send_to_addr(&b"hello"[..], &addr).await;
    n.unwrap();
    let (res, buf) = server.recv_from(Vec::with_capacity(8)).await;
    let (n, from) = res.unwrap();
    assert_eq!((n, &buf[..]), (5, &b"hello"[..]));
    // An unbound sender cannot be answered: its address is unnamed.
    assert!(from.is_unnamed());
    let (res, _) = server.send_to_addr(&b"reply"[..], &from).await;
    assert!(res.is_err());
}

#[runtime::test]
async fn datagram_connect_send_recv() {
    let (pa, pb) = (TempPath::new("dgc-a"), TempPath::new("dgc-b"));
    let a = UnixDatagram::bind(&pa).unwrap();
    let b = UnixDatagram::bind(&pb).unwrap();
    assert_eq!(
        a.peer_addr().unwrap_err().kind(),
        io::ErrorKind::NotConnected
    );
    let (res, _) = a.send(&b"x"[..]).await;
    assert!(res.is_err()); // not connected
    a.connect(&pb).await.unwrap();
    assert_eq!(a.peer_addr().unwrap().as_pathname(), Some(&*pb));
    let (n, _) = a.send(&b"via connect"[..]).await;
    n.unwrap();
    let (res, buf) = b.recv_from(vec![0u8; 32]).await;
    let (n, from) = res.unwrap();
    assert_eq!(
        (&buf[..n], from.as_pathname()),
        (&b"via connect"[..], Some(&*pa))
    );

    let abs = abstract_addr();
    let c = UnixDatagram::bind_addr(&abs).unwrap();
    b.connect_addr(&abs).await.unwrap();
    let (n, _) = b.send(&b"abs"[..]).await;
    n.unwrap();
    let (n, buf) = c.recv(vec![0u8; 8]).await;
    assert_eq!(&buf[..n.unwrap()], b"abs");
}

#[runtime::test]
async fn datagram_errors_are_errors() {
    let a = UnixDatagram::unbound().unwrap();
    let missing = TempPath::new("nobody");
    let (res, buf) = a.send_to(b"lost".to_vec(), &missing).await;
    assert_eq!(res.unwrap_err().kind(), io::ErrorKind::NotFound);
    assert_eq!(buf, b"lost");
    let (res, _) = a.send_to(&b"x"[..], "nul\0path").await;
    assert_eq!(res.unwrap_err().kind(), io::ErrorKind::InvalidInput);
    let (res, _) = a.send_to(&b"x"[..], "z".repeat(120)).await;
    assert_eq!(res.unwrap_err().kind(), io::ErrorKind::InvalidInput);
    let (res, _) = a.send_to_addr(&b"x"[..], &abstract_addr()).await;
    assert_eq!(res.unwrap_err().kind(), io::ErrorKind::ConnectionRefused);
    let err = a.connect(&missing).await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
    let err = a.connect("bad\0").await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);

    let path = TempPath::new("dg-taken");
    let _b = UnixDatagram::bind(&path).unwrap();
    assert_eq!(
        UnixDatagram::bind(&path).unwrap_err().kind(),
        io::ErrorKind::AddrInUse
    );
    assert_eq!(
        UnixDatagram::bind("bad\0").unwrap_err().kind(),
        io::ErrorKind::InvalidInput
    );
    assert!(a.take_error().unwrap().is_none());
}

#[runtime::test]
async fn datagram_vanished_peer_is_an_error() {
    let (a, b) = UnixDatagram::pair().unwrap();
    drop(b);
    let (res, buf) = a.send(b"gone".to_vec()).await;
    assert_eq!(res.unwrap_err().kind(), io::ErrorKind::ConnectionRefused);
    assert_eq!(buf, b"gone");
    // A path peer that went away: its file remains, nobody is bound to it.
    let path = TempPath::new("dg-gone");
    let peer = UnixDatagram::bind(&path).unwrap();
    let c = UnixDatagram::unbound().unwrap();
    c.connect(&path).await.unwrap();
    drop(peer);
    let (res, _) = c.send(&b"x"[..]).await;
    assert_eq!(res.unwrap_err().kind(), io::ErrorKind::ConnectionRefused);
}

/// A message longer than the buffer is cut to the buffer's size and the rest
/// is discarded: the next receive gets the next message.
#[runtime::test]
async fn datagram_truncation() {
    let (a, b) = UnixDatagram::pair().unwrap();
    let (n, _) = a.send(vec![5u8; 100]).await;
    assert_eq!(n.unwrap(), 100);
    let (n, _) = a.send(vec![6u8; 100]).await;
    n.unwrap();
    let (n, _) = a.send(&b"tail"[..]).await;
    n.unwrap();
    let (n, buf) = b.recv(Vec::with_capacity(10)).await;
    assert_eq!((n.unwrap(), &buf[..]), (10, &[5u8; 10][..]));
    let (res, buf) = b.recv_from(vec![0u8; 3]).await;
    assert_eq!(res.unwrap().0, 3);
    assert_eq!(buf, [6u8; 3]);
    let (n, buf) = b.recv(vec![0u8; 64]).await;
    assert_eq!(&buf[..n.unwrap()], b"tail");
}

#[runtime::test]
async fn datagram_empty_message() {
    let (a, b) = UnixDatagram::pair().unwrap();
    let (n, _) = a.send(Vec::new()).await;
    assert_eq!(n.unwrap(), 0);
    let (n, _) = b.recv(vec![0u8; 4]).await;
    assert_eq!(n.unwrap(), 0);
}

#[runtime::test]
async fn datagram_sender_waits_for_a_full_queue() {
    let (a, b) = UnixDatagram::pair().unwrap();
    // Far more messages than the receive queue holds: the sender must wait
    // for the receiver rather than fail or drop any.
    let sender = runtime::spawn(async move {
        for i in 0..500u32 {
            let (res, _) = a.send(i.to_be_bytes().to_vec().slice(..)).await;
            assert_eq!(res.unwrap(), 4);
        }
        a
    });
    for i in 0..500u32 {
        let (n, buf) = b.recv(vec![0u8; 4]).await;
        assert_eq!(n.unwrap(), 4);
        assert_eq!(u32::from_be_bytes(buf.try_into().unwrap()), i);
    }
    drop(sender.await.unwrap());
}

#[runtime::test]
async fn datagram_shutdown() {
    let (a, b) = UnixDatagram::pair().unwrap();
    a.shutdown(Shutdown::Write).await.unwrap();
    let (res, _) = a.send(&b"x"[..]).await;
    assert_eq!(res.unwrap_err().kind(), io::ErrorKind::BrokenPipe);
    // A peer that stopped reading refuses messages.
    b.shutdown(Shutdown::Read).await.unwrap();
    let (res, _) = b.send(&b"y"[..]).await;
    res.unwrap();
    let (n, buf) = a.recv(vec![0u8; 4]).await;
    assert_eq!(&buf[..n.unwrap()], b"y");
    let (c, d) = UnixDatagram::pair().unwrap();
    d.shutdown(Shutdown::Both).await.unwrap();
    let (res, _) = c.send(&b"z"[..]).await;
    assert_eq!(res.unwrap_err().kind(), io::ErrorKind::BrokenPipe);
}

#[runtime::test]
async fn datagram_receive_dropped_in_flight() {
    let (a, b) = UnixDatagram::pair().unwrap();
    let res = runtime::time::timeout(Duration::from_millis(5), b.recv_from(vec![0u8; 8])).await;
    assert!(res.is_err());
    let (n, _) = a.send(&b"after"[..]).await;
    n.unwrap();
    let (n, buf) = b.recv(vec![0u8; 8]).await;
    assert_eq!(&buf[..n.unwrap()], b"after");
}

#[runtime::test]
async fn datagram_from_std_and_into_std() {
    let (x, y) = std::os::unix::net::UnixDatagram::pair().unwrap();
    x.set_nonblocking(true).unwrap();
    let a = UnixDatagram::from_std(x).unwrap();
    let receiver = runtime::spawn(async move { a.recv(vec![0u8; 4]).await.0.map(|n| (n, a)) });
    runtime::task::yield_now().await;
    y.send(b"std").unwrap();
    let (n, a) = receiver.await.unwrap().unwrap();
    assert_eq!(n, 3);
    assert!(format!("{a:?}").contains("UnixDatagram"));
    assert!(a.as_raw_fd() >= 0);
    let back = a.into_std().unwrap();
    assert!(back.local_addr().unwrap().is_unnamed());
}

// ---- SIGPIPE ----------------------------------------------------------------

/// Set in the child process of `no_sigpipe_with_default_disposition`.
const SIGPIPE_CHILD: &str = "RUNTIME_TEST_UNIX_SIGPIPE_CHILD";

/// The child's half: with `SIGPIPE` at its default disposition (which kills
/// the process), writes to a stream whose peer is gone must return `EPIPE`.
/// Rust test binaries ignore `SIGPIPE`, hence the child process.
#[test]
fn sigpipe_child() {
    if std::env::var_os(SIGPIPE_CHILD).is_none() {
        return; // only meaningful in the child
    }
    // SAFETY: `signal` with `SIG_DFL` installs no handler; nothing else in
    // this single-test child process depends on the old disposition.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    for kind in [runtime::DriverKind::Uring, runtime::DriverKind::Epoll] {
        let rt = match runtime::Builder::new().driver(kind).build() {
            Ok(rt) => rt,
            Err(e) => {
                eprintln!("skipped on {kind:?}: {e}");
                continue;
            }
        };
        rt.block_on(async {
            let (a, b) = UnixStream::pair().unwrap();
            drop(b);
            let (res, _) = a.write(&b"x"[..]).await;
            assert_eq!(res.unwrap_err().kind(), io::ErrorKind::BrokenPipe);
            let (res, _) = a.writev(vec![&b"x"[..]]).await;
            assert_eq!(res.unwrap_err().kind(), io::ErrorKind::BrokenPipe);
            let (res, _) = a.into_split().1.write_all(&b"x"[..]).await;
            assert_eq!(res.unwrap_err().kind(), io::ErrorKind::BrokenPipe);
        });
    }
}

#[test]
fn no_sigpipe_with_default_disposition() {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "sigpipe_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(SIGPIPE_CHILD, "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "child died: {:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

// ---- the shared trait set ---------------------------------------------------

/// Sends `msg` through any owned-buffer writer, then shuts it down.
async fn send_through<W: WriteOwned>(mut w: W, msg: &[u8]) {
    let (res, _) = w.write_all(msg.to_vec()).await;
    res.unwrap();
    w.shutdown().await.unwrap();
}

/// Everything any owned-buffer reader yields until end of stream.
async fn drain<R: ReadOwned>(mut r: R) -> Vec<u8> {
    runtime::io::read_to_end(&mut r, Vec::new()).await.1
}

#[runtime::test]
async fn unix_streams_halves_and_refs_have_the_owned_traits() {
    // The stream itself and `&UnixStream`.
    let (a, b) = UnixStream::pair().unwrap();
    send_through(&a, b"by ref").await;
    assert_eq!(drain(&b).await, b"by ref");
    send_through(b, b"by value").await;
    assert_eq!(drain(a).await, b"by value");

    // Owned halves and `&` of each.
    let (a, b) = UnixStream::pair().unwrap();
    let ((ard, awr), (brd, bwr)) = (a.into_split(), b.into_split());
    send_through(&awr, b"half ref").await;
    assert_eq!(drain(&brd).await, b"half ref");
    send_through(bwr, b"half value").await;
    assert_eq!(drain(ard).await, b"half value");
    drop((awr, brd));
}

#[runtime::test]
async fn into_raw_fd_hands_the_descriptor_over() {
    use std::os::fd::{FromRawFd, IntoRawFd};
    let (a, b) = UnixStream::pair().unwrap();
    let raw = a.into_raw_fd();
    // SAFETY: `into_raw_fd` gave this descriptor up to us.
    let mut std_a = unsafe { std::os::unix::net::UnixStream::from_raw_fd(raw) };
    std_a.set_nonblocking(false).unwrap();
    std::io::Write::write_all(&mut std_a, b"raw").unwrap();
    let (n, buf) = b.read(Vec::with_capacity(8)).await;
    assert_eq!((n.unwrap(), &buf[..]), (3, &b"raw"[..]));
}
