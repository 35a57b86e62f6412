//! `TcpStream`'s own I/O on both drivers: an echo round trip, short writes,
//! slices, peek, shutdown, vectored reads and writes, the owned-buffer
//! helpers (`copy`, `read_exact`, `read_to_end`) over streams, and data
//! queued together with the peer's close.

mod support;

use std::io;
use std::net::Shutdown;

use runtime::buf::IoBuf;
use runtime::io::{copy, read_exact, read_to_end, ReadOwned, WriteOwned};
use runtime::net::{TcpListener, TcpStream};
use support::{pattern, tcp_pair, within};

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
    let data = pattern(8 << 20, 0);
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
    let data = pattern(300_000, 0);
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
