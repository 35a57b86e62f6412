//! TCP socket settings and conversions on both drivers: `nodelay` and
//! `linger`, `TcpSocket`'s options before `listen` or `connect`, and
//! listeners and streams to and from std and raw descriptors.

mod support;

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd};
use std::time::Duration;

use runtime::io::read_exact;
use runtime::net::{TcpListener, TcpSocket, TcpStream};
use support::{tcp_pair, within};

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
async fn listeners_bound_with_reuseport_share_a_port() -> io::Result<()> {
    let first = TcpListener::bind_reuseport("127.0.0.1:0".parse().unwrap())?;
    let addr = first.local_addr()?;
    let second = TcpListener::bind_reuseport(addr)?;
    assert_eq!(second.local_addr()?, addr);
    // Without SO_REUSEPORT the port is taken.
    let err = TcpListener::bind(addr).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::AddrInUse);

    // Either listener may get the connection; with one left, it does.
    drop(second);
    let stream = TcpStream::connect(addr).await?;
    let (_server, peer) = within("accept", first.accept()).await?;
    assert_eq!(peer, stream.local_addr()?);
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
