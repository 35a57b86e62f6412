//! TCP failures on both drivers: writing to a dead peer is an error, and a
//! stream closed with a read in flight neither loses the read nor hangs.

mod support;

use std::io;

use support::{fd_count, tcp_pair, within};

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
