//! The machinery behind `tcp::Incoming` and `unix::Incoming`: one accept
//! after another, pausing after errors which would repeat at once (`EMFILE`, …).
//!
//! A connection is taken from the listener only by a poll that returns it
//! (from its queue on io_uring, from the backlog on epoll): dropping the
//! stream, or a `next()` that lost a `select!`, loses none.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::op::{AcceptConn, Receive};
use crate::sys::{FdHandle, SharedFd};
use crate::time::{sleep, Sleep};

/// First pause after running out of descriptors.
const BACKOFF_MIN: Duration = Duration::from_millis(1);
/// Longest pause; it doubles from `BACKOFF_MIN` up to this.
const BACKOFF_MAX: Duration = Duration::from_millis(100);

/// Accepted connections of one listener, each wrapped as `S`.
#[derive(Debug)]
pub(crate) struct Accepting<S> {
    /// The listening socket: a handle, so the listener stays open while
    /// the stream lives.
    fd: FdHandle,
    /// The accept waiting for a connection, if one was started.
    op: Option<Receive<AcceptConn>>,
    /// The kind of accept it starts.
    accept: AcceptConn,
    /// Turns an accepted socket into the stream type the caller yields.
    wrap: fn(SharedFd) -> S,
    /// The pause after an error that would repeat at once.
    backoff: Option<Sleep>,
    /// The next pause; doubles on each such error, reset by a success.
    delay: Duration,
}

impl<S> Accepting<S> {
    /// Starts accepting on the listening socket `fd`.
    pub(crate) fn new(fd: &FdHandle, accept: AcceptConn, wrap: fn(SharedFd) -> S) -> Self {
        Accepting {
            fd: fd.clone(),
            op: None,
            accept,
            wrap,
            backoff: None,
            delay: BACKOFF_MIN,
        }
    }

    /// The next connection or accept error; never `None`.
    pub(crate) fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<S>>> {
        if let Some(pause) = self.backoff.as_mut() {
            std::task::ready!(Pin::new(pause).poll(cx));
            self.backoff = None;
        }
        let op = self
            .op
            .get_or_insert_with(|| Receive::new(&self.fd, self.accept.clone()));
        let res = std::task::ready!(Pin::new(op).poll(cx));
        self.op = None;
        match res {
            Ok((fd, _peer)) => {
                self.delay = BACKOFF_MIN;
                Poll::Ready(Some(Ok((self.wrap)(SharedFd::new(fd)))))
            }
            Err(e) => {
                if needs_backoff(&e) {
                    self.backoff = Some(sleep(self.delay));
                    self.delay = (self.delay * 2).min(BACKOFF_MAX);
                }
                Poll::Ready(Some(Err(e)))
            }
        }
    }
}

/// Errors after which accepting again at once would fail again.
fn needs_backoff(e: &io::Error) -> bool {
    // Per-connection failures (the peer gave up first) are not worth a pause.
    !matches!(
        e.raw_os_error(),
        Some(libc::ECONNABORTED | libc::EPROTO | libc::EPERM | libc::EINTR)
    )
}
