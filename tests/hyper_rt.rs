//! The `hyper` feature on both drivers: `HyperExecutor` spawns on the current
//! worker (`!Send` futures too), `HyperTimer`'s sleeps are `Send + Sync`,
//! complete in spawned tasks and across workers, and reset; and hyper itself
//! runs on them: an HTTP/2 exchange (which spawns through the executor) and
//! an HTTP/1 header-read timeout (which needs the timer), over an in-memory pipe.

#![cfg(feature = "hyper")]

mod support;

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::{Duration, Instant};

use http_body_util::BodyExt;
use hyper::rt::{Executor, Sleep, Timer};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use runtime::io::compat::{HyperExecutor, HyperTimer};
use support::within;
use tokio::io::AsyncWriteExt;
use tokio::sync::oneshot;

/// Polls `fut` once.
async fn poll_once<F: Future + Unpin + ?Sized>(fut: &mut F) -> Poll<F::Output> {
    std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut *fut).poll(cx))).await
}

fn this_thread() -> Option<String> {
    std::thread::current().name().map(String::from)
}

#[test]
fn the_pieces_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_send_sync::<HyperExecutor>();
    assert_send_sync::<HyperTimer>();
    assert_send_sync::<Pin<Box<dyn Sleep>>>();
}

#[runtime::test]
async fn the_executor_runs_local_futures() {
    let (tx, rx) = oneshot::channel();
    let local = Rc::new(5); // !Send
    HyperExecutor.execute(async move {
        let _ = tx.send(*local * 2);
    });
    assert_eq!(within("executed", rx).await.unwrap(), 10);
}

#[runtime::test(workers = 2)]
async fn the_executor_spawns_on_the_current_worker() {
    let h = runtime::spawn_on(1, || async {
        let (tx, rx) = oneshot::channel();
        HyperExecutor.execute(async move {
            let _ = tx.send(this_thread());
        });
        (this_thread(), rx.await.unwrap())
    });
    let (spawner, spawned) = within("spawn_on", h).await.unwrap();
    assert_eq!(spawner, spawned);
    assert_ne!(spawned, this_thread(), "worker 1 is not the test's thread");
}

#[runtime::test]
async fn a_timer_sleep_in_a_spawned_task() {
    let h = runtime::spawn(async {
        let sleep = HyperTimer.sleep(Duration::from_millis(10));
        let start = Instant::now();
        sleep.await;
        start.elapsed()
    });
    assert!(within("task", h).await.unwrap() >= Duration::from_millis(10));
}

#[runtime::test(workers = 2)]
async fn a_timer_sleep_across_workers() {
    // Made and registered on worker 0, finished on worker 1.
    let deadline = Instant::now() + Duration::from_millis(20);
    let mut sleep = HyperTimer.sleep_until(deadline);
    assert!(poll_once(&mut sleep).await.is_pending());
    let h = runtime::spawn_on(1, move || async move {
        sleep.await;
        Instant::now() >= deadline
    });
    assert!(within("moved sleep", h).await.unwrap());
    // And one made and awaited on worker 1.
    let h = runtime::spawn_on(1, || HyperTimer.sleep(Duration::from_millis(5)));
    within("worker 1 sleep", h).await.unwrap();
}

#[runtime::test]
async fn reset_moves_a_registered_sleep() {
    let mut sleep = HyperTimer.sleep(Duration::from_secs(3600));
    assert!(poll_once(&mut sleep).await.is_pending());
    let deadline = Instant::now() + Duration::from_millis(5);
    HyperTimer.reset(&mut sleep, deadline);
    within("reset sleep", &mut sleep).await;
    assert!(Instant::now() >= deadline);
}

/// A sleep from some other timer: never completes.
struct Foreign;

impl Future for Foreign {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _: &mut std::task::Context<'_>) -> Poll<()> {
        Poll::Pending
    }
}

impl Sleep for Foreign {}

#[runtime::test]
async fn reset_replaces_a_foreign_sleep() {
    let mut sleep: Pin<Box<dyn Sleep>> = Box::pin(Foreign);
    HyperTimer.reset(&mut sleep, Instant::now() + Duration::from_millis(1));
    within("replaced sleep", &mut sleep).await;
}

#[runtime::test]
async fn hyper_http2_over_the_executor_and_timer() {
    let (client_io, server_io) = tokio::io::duplex(64 * 1024);
    let server = runtime::spawn(async move {
        let service =
            hyper::service::service_fn(|req: Request<hyper::body::Incoming>| async move {
                let body = format!("hello {}", req.uri().path());
                Ok::<_, Infallible>(Response::new(body))
            });
        hyper::server::conn::http2::Builder::new(HyperExecutor)
            .timer(HyperTimer)
            .serve_connection(TokioIo::new(server_io), service)
            .await
    });
    let (mut sender, conn) = hyper::client::conn::http2::Builder::new(HyperExecutor)
        .timer(HyperTimer)
        .handshake::<_, String>(TokioIo::new(client_io))
        .await
        .expect("handshake");
    let conn = runtime::spawn(conn);
    for path in ["/a", "/b"] {
        let req = Request::get(path).body(String::new()).unwrap();
        let resp = within("response", sender.send_request(req))
            .await
            .expect("response");
        assert_eq!(resp.status(), 200);
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, format!("hello {path}").as_bytes());
    }
    drop(sender);
    within("client connection", conn).await.unwrap().unwrap();
    within("server connection", server).await.unwrap().unwrap();
}

#[runtime::test]
async fn hyper_http1_header_read_timeout_fires() {
    let (mut client_io, server_io) = tokio::io::duplex(4096);
    let server = runtime::spawn(async move {
        let service = hyper::service::service_fn(|_req: Request<hyper::body::Incoming>| async {
            Ok::<_, Infallible>(Response::new(String::from("never")))
        });
        hyper::server::conn::http1::Builder::new()
            .timer(HyperTimer)
            .header_read_timeout(Duration::from_millis(20))
            .serve_connection(TokioIo::new(server_io), service)
            .await
    });
    // Half a request head, then silence.
    client_io
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let err = within("server", server).await.unwrap().unwrap_err();
    assert!(err.is_timeout(), "{err}");
}
