//! `UdpSocket` on both drivers: every public method, connected and
//! unconnected use, truncation, broadcast, multicast on loopback, errors.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::time::Duration;

use runtime::buf::IoBuf;
use runtime::net::UdpSocket;

/// A socket on an ephemeral loopback port.
fn local() -> UdpSocket {
    UdpSocket::bind("127.0.0.1:0").unwrap()
}

/// IPv6 loopback, if this machine has it.
fn local_v6() -> Option<UdpSocket> {
    UdpSocket::bind("[::1]:0").ok()
}

#[runtime::test]
async fn bind_picks_a_port() {
    let s = local();
    let addr = s.local_addr().unwrap();
    assert_eq!(addr.ip(), Ipv4Addr::LOCALHOST);
    assert_ne!(addr.port(), 0);
    // Every form the address argument takes.
    UdpSocket::bind(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
    UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    UdpSocket::bind(String::from("127.0.0.1:0")).unwrap();
    UdpSocket::bind("localhost:0").unwrap();
}

#[runtime::test]
async fn bind_errors_are_errors() {
    let s = local();
    let taken = s.local_addr().unwrap();
    let err = UdpSocket::bind(taken).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
    let none: &[SocketAddr] = &[];
    assert!(UdpSocket::bind(none).is_err());
    assert!(UdpSocket::bind("not an address").is_err());
    // An address this machine does not have (TEST-NET-3).
    let err = UdpSocket::bind("203.0.113.77:0").unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::AddrNotAvailable);
}

#[runtime::test]
async fn send_to_recv_from_roundtrip() {
    let (a, b) = (local(), local());
    let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());
    let (n, buf) = a.send_to(b"hello".to_vec(), b_addr).await;
    assert_eq!(n.unwrap(), 5);
    assert_eq!(buf, b"hello"); // the buffer comes back
                               // A `with_capacity` buffer comes back with its length set to what arrived.
    let (res, buf) = b.recv_from(Vec::with_capacity(64)).await;
    let (n, from) = res.unwrap();
    assert_eq!((n, from), (5, a_addr));
    assert_eq!(buf, b"hello");
    // And back, from a slice of a larger buffer.
    let (n, _) = b.send_to(b"xxworldxx".to_vec().slice(2..7), from).await;
    assert_eq!(n.unwrap(), 5);
    let (res, buf) = a.recv_from(vec![0u8; 16]).await;
    let (n, from) = res.unwrap();
    assert_eq!((&buf[..n], from), (&b"world"[..], b_addr));
}

#[runtime::test]
async fn many_datagrams_keep_their_boundaries_and_order() {
    let (a, b) = (local(), local());
    let to = b.local_addr().unwrap();
    for i in 0..50u8 {
        let (n, _) = a.send_to(vec![i; usize::from(i) + 1], to).await;
        assert_eq!(n.unwrap(), usize::from(i) + 1);
    }
    for i in 0..50u8 {
        let (res, buf) = b.recv_from(Vec::with_capacity(128)).await;
        assert_eq!(res.unwrap().0, usize::from(i) + 1);
        assert!(buf.iter().all(|&x| x == i));
    }
}

#[runtime::test]
async fn receiver_waits_for_a_later_send() {
    let (a, b) = (local(), local());
    let to = b.local_addr().unwrap();
    let rx = runtime::spawn(async move { b.recv_from(vec![0u8; 8]).await });
    runtime::task::yield_now().await; // let the receive start and wait
    let (n, _) = a.send_to(&b"late"[..], to).await;
    assert_eq!(n.unwrap(), 4);
    let (res, buf) = rx.await.unwrap();
    assert_eq!(&buf[..res.unwrap().0], b"late");
}

#[runtime::test]
async fn empty_datagram() {
    let (a, b) = (local(), local());
    let (n, _) = a.send_to(Vec::new(), b.local_addr().unwrap()).await;
    assert_eq!(n.unwrap(), 0);
    let (res, _) = b.recv_from(vec![0u8; 4]).await;
    assert_eq!(res.unwrap(), (0, a.local_addr().unwrap()));
}

/// A datagram longer than the buffer is cut to the buffer's size; the rest is
/// discarded (the next receive gets the next datagram), as with std.
#[runtime::test]
async fn long_datagram_is_truncated() {
    let (a, b) = (local(), local());
    let to = b.local_addr().unwrap();
    let (n, _) = a.send_to(vec![7u8; 100], to).await;
    assert_eq!(n.unwrap(), 100);
    let (n, _) = a.send_to(&b"next"[..], to).await;
    n.unwrap();
    let (res, buf) = b.recv_from(Vec::with_capacity(10)).await;
    assert_eq!(res.unwrap().0, 10);
    assert_eq!(buf, [7u8; 10]);
    // Connected `recv` behaves the same way.
    b.connect(a.local_addr().unwrap()).await.unwrap();
    let (n, _) = a.send_to(vec![8u8; 100], to).await;
    n.unwrap();
    let (res, buf) = b.recv(vec![0u8; 4]).await;
    assert_eq!(res.unwrap(), 4);
    assert_eq!(buf, b"next"); // the 90 dropped bytes of the first are gone
    let (res, buf) = b.recv(vec![0u8; 4]).await;
    assert_eq!((res.unwrap(), &buf[..]), (4, &[8u8; 4][..]));
}

#[runtime::test]
async fn peek_from_leaves_the_datagram() {
    let (a, b) = (local(), local());
    let (n, _) = a.send_to(&b"peek"[..], b.local_addr().unwrap()).await;
    n.unwrap();
    let (res, buf) = b.peek_from(vec![0u8; 2]).await;
    assert_eq!(res.unwrap(), (2, a.local_addr().unwrap()));
    assert_eq!(buf, b"pe");
    let (res, buf) = b.recv_from(vec![0u8; 8]).await;
    assert_eq!(&buf[..res.unwrap().0], b"peek");
}

#[runtime::test]
async fn connected_send_recv_and_peer_addr() {
    let (a, b) = (local(), local());
    let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());
    assert_eq!(
        a.peer_addr().unwrap_err().kind(),
        io::ErrorKind::NotConnected
    );
    a.connect(b_addr).await.unwrap();
    b.connect(a_addr).await.unwrap();
    assert_eq!(a.peer_addr().unwrap(), b_addr);
    let (n, _) = a.send(b"ping".to_vec()).await;
    assert_eq!(n.unwrap(), 4);
    let (n, buf) = b.recv(Vec::with_capacity(16)).await;
    assert_eq!(n.unwrap(), 4);
    assert_eq!(buf, b"ping");
    // A connected socket can still name the destination explicitly.
    let (n, _) = b.send_to(b"pong".to_vec(), a_addr).await;
    n.unwrap();
    let (res, buf) = a.recv_from(vec![0u8; 8]).await;
    assert_eq!(res.unwrap(), (4, b_addr));
    assert_eq!(&buf[..4], b"pong");
}

#[runtime::test]
async fn connect_resolves_names_and_reconnects() {
    let (a, b, c) = (local(), local(), local());
    let port = b.local_addr().unwrap().port();
    a.connect(("localhost", port)).await.unwrap();
    assert_eq!(a.peer_addr().unwrap().port(), port);
    a.connect(c.local_addr().unwrap()).await.unwrap();
    assert_eq!(a.peer_addr().unwrap(), c.local_addr().unwrap());
    let none: &[SocketAddr] = &[];
    assert!(a.connect(none).await.is_err());
}

#[runtime::test]
async fn connected_socket_ignores_other_senders() {
    let (a, b, stranger) = (local(), local(), local());
    b.connect(a.local_addr().unwrap()).await.unwrap();
    let to = b.local_addr().unwrap();
    // The stranger's datagram arrives first, and is dropped by the kernel.
    let (n, _) = stranger.send_to(&b"spam"[..], to).await;
    n.unwrap();
    let (n, _) = a.send_to(&b"real"[..], to).await;
    n.unwrap();
    let (res, buf) = b.recv(vec![0u8; 8]).await;
    assert_eq!(&buf[..res.unwrap()], b"real");
}

#[runtime::test]
async fn send_without_peer_is_an_error() {
    let a = local();
    let (res, buf) = a.send(b"nowhere".to_vec()).await;
    let err = res.unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EDESTADDRREQ), "{err}");
    assert_eq!(buf, b"nowhere");
}

#[runtime::test]
async fn vanished_peer_is_connection_refused() {
    let a = local();
    let gone = local();
    a.connect(gone.local_addr().unwrap()).await.unwrap();
    drop(gone);
    assert!(a.take_error().unwrap().is_none());
    // The kernel answers a send with an ICMP "port unreachable", which the
    // next call on the socket reports: a send, or `take_error`. On loopback
    // it arrives within the first send; the bound only stops a runaway loop.
    let mut refused = None;
    for _ in 0..1000 {
        let (res, buf) = a.send(&b"anyone?"[..]).await;
        assert_eq!(buf, b"anyone?");
        if let Err(e) = res {
            refused = Some(e);
            break;
        }
        if let Some(e) = a.take_error().unwrap() {
            refused = Some(e);
            break;
        }
    }
    let err = refused.expect("no ECONNREFUSED after 1000 sends to a closed port");
    assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused, "{err}");
    // The error is reported once; then the socket is usable again.
    assert!(a.take_error().unwrap().is_none());
    let back = local();
    a.connect(back.local_addr().unwrap()).await.unwrap();
    let (res, _) = a.send(&b"again"[..]).await;
    assert_eq!(res.unwrap(), 5);
}

#[runtime::test]
async fn send_to_a_family_mismatch_is_an_error() {
    let a = local();
    let (res, _) = a.send_to(&b"x"[..], "[::1]:9".parse().unwrap()).await;
    assert!(res.is_err());
}

#[runtime::test]
async fn ipv6_roundtrip() {
    let (Some(a), Some(b)) = (local_v6(), local_v6()) else {
        eprintln!("skipped: no IPv6 loopback");
        return;
    };
    let (n, _) = a.send_to(&b"six"[..], b.local_addr().unwrap()).await;
    n.unwrap();
    let (res, buf) = b.recv_from(vec![0u8; 8]).await;
    let (n, from) = res.unwrap();
    assert_eq!((&buf[..n], from), (&b"six"[..], a.local_addr().unwrap()));
    assert!(from.is_ipv6());
}

#[runtime::test]
async fn broadcast_flag() {
    let rx = UdpSocket::bind("0.0.0.0:0").unwrap();
    let port = rx.local_addr().unwrap().port();
    let tx = local();
    assert!(!tx.broadcast().unwrap());
    let target = SocketAddr::from(([127, 255, 255, 255], port));
    // Without SO_BROADCAST the kernel refuses a broadcast destination.
    let (res, _) = tx.send_to(&b"all"[..], target).await;
    assert_eq!(res.unwrap_err().kind(), io::ErrorKind::PermissionDenied);
    tx.set_broadcast(true).unwrap();
    assert!(tx.broadcast().unwrap());
    let (res, _) = tx.send_to(&b"all"[..], target).await;
    assert_eq!(res.unwrap(), 3);
    let (res, buf) = rx.recv_from(vec![0u8; 8]).await;
    assert_eq!(&buf[..res.unwrap().0], b"all");
    tx.set_broadcast(false).unwrap();
    assert!(!tx.broadcast().unwrap());
}

#[runtime::test]
async fn multicast_v4_on_loopback() {
    let group = Ipv4Addr::new(239, 255, 77, 1);
    let rx = UdpSocket::bind("0.0.0.0:0").unwrap();
    let port = rx.local_addr().unwrap().port();
    rx.join_multicast_v4(group, Ipv4Addr::LOCALHOST).unwrap();
    // Joining twice, or a unicast "group", is an error, not a panic.
    assert!(rx.join_multicast_v4(group, Ipv4Addr::LOCALHOST).is_err());
    assert!(rx
        .join_multicast_v4(Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::LOCALHOST)
        .is_err());

    let tx = local();
    tx.set_multicast_if_v4(Ipv4Addr::LOCALHOST).unwrap();
    assert_eq!(tx.multicast_if_v4().unwrap(), Ipv4Addr::LOCALHOST);
    assert!(tx.multicast_loop_v4().unwrap()); // the default
    tx.set_multicast_ttl_v4(2).unwrap();
    assert_eq!(tx.multicast_ttl_v4().unwrap(), 2);
    let (res, _) = tx.send_to(&b"group"[..], (group, port).into()).await;
    assert_eq!(res.unwrap(), 5);
    let (res, buf) = rx.recv_from(vec![0u8; 8]).await;
    let (n, from) = res.unwrap();
    assert_eq!((&buf[..n], from), (&b"group"[..], tx.local_addr().unwrap()));

    // Loop only adds a copy for other local members; through `lo` the
    // datagram comes back anyway, so only the flag itself is checked here.
    tx.set_multicast_loop_v4(false).unwrap();
    assert!(!tx.multicast_loop_v4().unwrap());

    rx.leave_multicast_v4(group, Ipv4Addr::LOCALHOST).unwrap();
    assert!(rx.leave_multicast_v4(group, Ipv4Addr::LOCALHOST).is_err());
}

#[runtime::test]
async fn multicast_v6_join_and_leave() {
    let Ok(s) = UdpSocket::bind("[::]:0") else {
        eprintln!("skipped: no IPv6");
        return;
    };
    let group: Ipv6Addr = "ff12::7357".parse().unwrap();
    // Interface 1 is loopback on Linux.
    s.join_multicast_v6(&group, 1).unwrap();
    assert!(s.join_multicast_v6(&group, 1).is_err());
    assert!(s.join_multicast_v6(&Ipv6Addr::LOCALHOST, 1).is_err());
    s.leave_multicast_v6(&group, 1).unwrap();
    assert!(s.leave_multicast_v6(&group, 1).is_err());
    assert!(s.multicast_loop_v6().unwrap());
    s.set_multicast_loop_v6(false).unwrap();
    assert!(!s.multicast_loop_v6().unwrap());
}

#[runtime::test]
async fn ttl() {
    let s = local();
    s.set_ttl(42).unwrap();
    assert_eq!(s.ttl().unwrap(), 42);
    assert_eq!(
        s.set_ttl(0).unwrap_err().kind(),
        io::ErrorKind::InvalidInput
    );
    assert_eq!(
        s.set_ttl(u32::MAX).unwrap_err().kind(),
        io::ErrorKind::InvalidInput
    );
}

#[runtime::test]
async fn from_std_nonblocking_socket() {
    let std_socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    std_socket.set_nonblocking(true).unwrap();
    let s = UdpSocket::from_std(std_socket).unwrap();
    let peer = local();
    // The receive must wait (not fail with WouldBlock) on either driver.
    let to = s.local_addr().unwrap();
    let rx = runtime::spawn(async move { s.recv_from(vec![0u8; 4]).await });
    runtime::task::yield_now().await;
    let (n, _) = peer.send_to(&b"std"[..], to).await;
    n.unwrap();
    let (res, buf) = rx.await.unwrap();
    assert_eq!(&buf[..res.unwrap().0], b"std");
}

#[runtime::test]
async fn dropped_receive_keeps_the_socket_usable() {
    let (a, b) = (local(), local());
    // Nothing is ever sent before the deadline, so the receive is dropped in flight.
    let res = runtime::time::timeout(Duration::from_millis(5), b.recv_from(vec![0u8; 8])).await;
    assert!(res.is_err());
    let (n, _) = a.send_to(&b"after"[..], b.local_addr().unwrap()).await;
    n.unwrap();
    let (res, buf) = b.recv_from(vec![0u8; 8]).await;
    assert_eq!(&buf[..res.unwrap().0], b"after");
}

#[runtime::test]
async fn debug_and_raw_fd() {
    let s = local();
    assert!(s.as_raw_fd() >= 0);
    let text = format!("{s:?}");
    assert!(
        text.contains("UdpSocket") && text.contains("127.0.0.1"),
        "{text}"
    );
}
