//! `TcpStream::into_split` on both drivers: the halves work from two tasks
//! and from another worker, and reunite only with their own.

mod support;

use std::io;
use std::net::Shutdown;

use runtime::io::read_exact;
use support::{tcp_pair, within};

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
