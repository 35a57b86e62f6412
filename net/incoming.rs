//! The machinery behind the listeners' futures: `listener_futures!` defines
//! a listener's `Accept` and `Incoming` (TCP and Unix each invoke it once),
//! and `Accepting` is what an `Incoming` runs: one accept after another,
//! pausing after errors which would repeat at once (`EMFILE`, …).
//!
//! A connection is taken from the listener only by a poll that returns it
//! (from its queue on io_uring, from the backlog on epoll): a dropped accept,
//! a dropped stream, or a `next()` that lost a `select!`, loses none.

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

/// Defines `Accept`, the future of `$listener::accept`, and `Incoming`, the
/// stream of `$listener::incoming`, both yielding `$stream`s; `|$sa| $peer`
/// makes the peer's `$addr` from the kernel's `SockAddr` `$sa`.
macro_rules! listener_futures {
    (listener: $listener:ident, stream: $stream:ident, addr: $addr:ty, peer: |$sa:ident| $peer:expr) => {
        #[doc = concat!("The future of [`", stringify!($listener), "::accept`].")]
        #[must_use = "an operation does nothing unless awaited"]
        #[derive(Debug)]
        pub struct Accept {
            /// The accept: from the listener's queue, or an `accept4` of its own.
            op: $crate::op::Receive<$crate::op::AcceptConn>,
        }

        impl Accept {
            /// Gives up after `dur`: the future resolves to an error of kind
            /// `TimedOut`.
            ///
            /// # Cancel safety
            ///
            /// As for `accept`: a connection that arrives after the deadline waits for the next call.
            pub fn timeout(self, dur: ::std::time::Duration) -> Self {
                Accept {
                    op: self.op.timeout(dur),
                }
            }
        }

        impl ::std::future::Future for Accept {
            type Output = ::std::io::Result<($stream, $addr)>;

            fn poll(
                self: ::std::pin::Pin<&mut Self>,
                cx: &mut ::std::task::Context<'_>,
            ) -> ::std::task::Poll<Self::Output> {
                let op = ::std::pin::Pin::new(&mut self.get_mut().op);
                let res = ::std::task::ready!(::std::future::Future::poll(op, cx));
                ::std::task::Poll::Ready(res.and_then(|(fd, peer)| {
                    // On error `fd` is dropped: closed.
                    let $sa = match peer {
                        Some(peer) => peer,
                        None => $crate::sys::socket::peer_addr(::std::os::fd::AsFd::as_fd(&fd))?,
                    };
                    let stream = $stream::from_shared($crate::sys::SharedFd::new(fd));
                    Ok((stream, $peer?))
                }))
            }
        }

        #[doc = concat!("The stream of [`", stringify!($listener), "::incoming`]: connections as they arrive.")]
        ///
        /// Dropping it loses no connection: they wait on the listener for the next
        /// accept.
        #[must_use = "streams do nothing unless polled"]
        #[derive(Debug)]
        pub struct Incoming {
            /// One accept after another, and the pause after errors.
            inner: $crate::net::incoming::Accepting<$stream>,
        }

        impl Incoming {
            /// The next connection (never `None`: the stream does not end). The same
            /// as `StreamExt::next` from futures, without the dependency.
            ///
            /// # Cancel safety
            ///
            /// Cancel safe: dropping it loses no connection.
            #[allow(clippy::should_implement_trait)] // async, like `StreamExt::next`, not `Iterator::next`
            pub fn next(
                &mut self,
            ) -> impl ::std::future::Future<Output = Option<::std::io::Result<$stream>>> + '_ {
                ::std::future::poll_fn(move |cx| {
                    ::futures_core::Stream::poll_next(::std::pin::Pin::new(&mut *self), cx)
                })
            }
        }

        impl ::futures_core::Stream for Incoming {
            type Item = ::std::io::Result<$stream>;

            fn poll_next(
                self: ::std::pin::Pin<&mut Self>,
                cx: &mut ::std::task::Context<'_>,
            ) -> ::std::task::Poll<Option<Self::Item>> {
                self.get_mut().inner.poll_next(cx)
            }
        }
    };
}

pub(crate) use listener_futures;
