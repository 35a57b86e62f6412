//! `runtime::signal` on both drivers: signals raised to the own process reach
//! every listener, on any worker, and earlier handlers still run.

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Poll;
use std::time::Duration;

use runtime::signal::unix::{signal, SignalKind};

/// Safety net only: a lost wake-up fails the test instead of hanging it.
const LIMIT: Duration = Duration::from_secs(20);

fn raise(signum: libc::c_int) {
    // SAFETY: kill(2) on our own pid with a signal every test installs a handler for first.
    assert_eq!(unsafe { libc::kill(libc::getpid(), signum) }, 0);
}

#[runtime::test]
async fn recv_sees_a_raised_signal() {
    let mut usr1 = signal(SignalKind::user_defined1()).unwrap();
    raise(libc::SIGUSR1);
    let got = runtime::time::timeout(LIMIT, usr1.recv()).await;
    assert_eq!(got.unwrap(), Some(()));
    // And again: the stream goes on.
    raise(libc::SIGUSR1);
    assert_eq!(
        runtime::time::timeout(LIMIT, usr1.recv()).await.unwrap(),
        Some(())
    );
}

#[runtime::test]
async fn two_listeners_of_one_signal_both_see_it() {
    let mut a = signal(SignalKind::user_defined2()).unwrap();
    let mut b = signal(SignalKind::user_defined2()).unwrap();
    raise(libc::SIGUSR2);
    assert_eq!(
        runtime::time::timeout(LIMIT, a.recv()).await.unwrap(),
        Some(())
    );
    assert_eq!(
        runtime::time::timeout(LIMIT, b.recv()).await.unwrap(),
        Some(())
    );
}

#[runtime::test(workers = 2)]
async fn listeners_on_two_workers_both_see_it() {
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let remote = runtime::spawn_on(1, move || async move {
        let mut hup = signal(SignalKind::hangup()).unwrap();
        let _ = ready_tx.send(());
        runtime::time::timeout(LIMIT, hup.recv()).await
    });
    let mut local = signal(SignalKind::hangup()).unwrap();
    ready_rx.await.unwrap();
    raise(libc::SIGHUP);
    assert_eq!(
        runtime::time::timeout(LIMIT, local.recv()).await.unwrap(),
        Some(())
    );
    assert_eq!(remote.await.unwrap().unwrap(), Some(()));
}

#[runtime::test(workers = 2)]
async fn ctrl_c_completes_on_another_worker() {
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let remote = runtime::spawn_on(1, move || async move {
        let mut ctrl_c = pin!(runtime::signal::ctrl_c());
        // One poll registers the listener (and installs the handler).
        let first = std::future::poll_fn(|cx| Poll::Ready(ctrl_c.as_mut().poll(cx))).await;
        assert!(first.is_pending());
        let _ = ready_tx.send(());
        runtime::time::timeout(LIMIT, ctrl_c).await
    });
    ready_rx.await.unwrap();
    raise(libc::SIGINT);
    remote.await.unwrap().unwrap().unwrap();
}

/// Counts deliveries to the handler installed before ours.
static EARLIER: AtomicUsize = AtomicUsize::new(0);

extern "C" fn earlier_handler(_: libc::c_int) {
    EARLIER.fetch_add(1, Ordering::SeqCst);
}

/// Installs `earlier_handler` once per process (both halves of the test below
/// share it; a `static` inside the test body would be one per half).
static INSTALL_EARLIER: std::sync::Once = std::sync::Once::new();

#[runtime::test]
async fn an_earlier_handler_still_runs() {
    INSTALL_EARLIER.call_once(|| {
        // SAFETY: a zeroed sigaction is valid; the handler only touches an atomic.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = earlier_handler as *const () as usize;
            libc::sigemptyset(&mut action.sa_mask);
            assert_eq!(
                libc::sigaction(libc::SIGURG, &action, std::ptr::null_mut()),
                0
            );
        }
    });
    let before = EARLIER.load(Ordering::SeqCst);
    let mut urg = signal(SignalKind::from_raw(libc::SIGURG)).unwrap();
    raise(libc::SIGURG);
    // The other half raises SIGURG too, so a delivery may wake us before ours
    // ran; ours (or one merged with it) comes after `before` and chains first.
    while EARLIER.load(Ordering::SeqCst) == before {
        let got = runtime::time::timeout(LIMIT, urg.recv()).await;
        assert_eq!(got.unwrap(), Some(()));
    }
}

#[test]
fn listening_outside_a_runtime_is_an_error() {
    assert!(signal(SignalKind::user_defined1()).is_err());
}

#[runtime::test]
async fn uncatchable_signals_are_refused() {
    for signum in [libc::SIGKILL, libc::SIGSTOP, libc::SIGSEGV, 0, -1, 65, 1000] {
        let err = signal(SignalKind::from_raw(signum)).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{signum}");
    }
}
