//! The acceptor `serve` runs on each worker: admit (the connection limit),
//! accept, place the connection on the least-loaded worker, serve it there.
//! Between io_uring workers the connection's descriptor goes to the target's
//! ring with `IORING_OP_MSG_RING` (`driver/hand_off.rs`), which the target's
//! receiver takes; otherwise the connection's task goes to the target's
//! inbox.

use std::future::{poll_fn, Future};
use std::io;
use std::os::fd::{FromRawFd, IntoRawFd};
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;

use super::conn::{self, HttpBody, HttpService, Ticket};
use super::state::Shared;
use crate::io::compat::HyperExecutor;
use crate::net::{TcpListener, TcpStream};

/// What every acceptor gets.
pub(crate) struct Setup<S> {
    /// The service, cloned per connection.
    pub(crate) service: S,
    /// The accounting all workers share.
    pub(crate) state: Arc<Shared>,
    /// hyper's connection builder, with the runtime's executor and timer.
    pub(crate) http: auto::Builder<HyperExecutor>,
    /// Hand connections to the least-loaded worker (else keep them).
    pub(crate) balance: bool,
    /// HTTPS.
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<Arc<rustls::ServerConfig>>,
}

impl<S: Clone> Clone for Setup<S> {
    fn clone(&self) -> Self {
        Setup {
            service: self.service.clone(),
            state: self.state.clone(),
            http: self.http.clone(),
            balance: self.balance,
            #[cfg(feature = "tls")]
            tls: self.tls.clone(),
        }
    }
}

/// How long accepting pauses after running out of descriptors or memory:
/// long enough for connections to close, short enough to go unnoticed.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Worker `here`'s acceptor: admits, accepts and places connections until
/// the stop.
pub(crate) async fn accept_loop<S, B>(
    here: usize,
    listener: TcpListener,
    setup: Setup<S>,
) -> io::Result<()>
where
    S: HttpService<B>,
    B: HttpBody,
{
    let state = setup.state.clone();
    loop {
        if !poll_fn(|cx| state.poll_admit(cx)).await {
            return Ok(());
        }
        let stream = loop {
            let mut accept = pin!(listener.accept());
            let accepted = poll_fn(|cx| {
                if state.poll_stop(cx).is_ready() {
                    return Poll::Ready(None);
                }
                accept.as_mut().poll(cx).map(Some)
            })
            .await;
            match accepted {
                Some(Ok((stream, _))) => break stream,
                Some(Err(e)) if transient(&e) => continue,
                Some(Err(e)) if exhausted(&e) => crate::time::sleep(ACCEPT_BACKOFF).await,
                None => {
                    state.release();
                    return Ok(());
                }
                Some(Err(e)) => {
                    state.release();
                    return Err(e);
                }
            }
        };
        // Small responses should leave at once, as every HTTP server does.
        let _ = stream.set_nodelay(true);
        let target = if setup.balance {
            state.pick(here)
        } else {
            state.keep(here)
        };
        if target != here {
            if let (Some(_), Some((ring, wake))) = (state.ring(here), state.ring(target)) {
                if pass_on(stream, *ring, &state, target) {
                    // The message posts a completion to the target's ring; a
                    // target asleep there is also woken the usual way (its
                    // eventfd, if it is parked): the kernel posts to a
                    // DEFER_TASKRUN ring through the target's task work,
                    // which left it asleep for tens of milliseconds in tests.
                    wake.unpark();
                }
                continue;
            }
        }
        let ticket = Ticket::new(state.clone(), target);
        let setup = setup.clone();
        if target == here {
            drop(crate::spawn(connection(ticket, stream, setup)));
        } else {
            drop(crate::spawn_on(target, move || {
                connection(ticket, stream, setup)
            }));
        }
    }
}

/// An accept error that concerns one connection only (it went away first).
fn transient(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
    ) || e.raw_os_error() == Some(libc::EPROTO)
}

/// Out of descriptors or memory: accepting must pause, not fail.
fn exhausted(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

/// Serves one connection on the worker it was placed on.
async fn connection<S, B>(ticket: Ticket, stream: TcpStream, setup: Setup<S>)
where
    S: HttpService<B>,
    B: HttpBody,
{
    let mut ticket = ticket;
    poll_fn(|cx| {
        ticket.start(cx.waker());
        Poll::Ready(())
    })
    .await;
    let service = TowerToHyperService::new(setup.service);
    #[cfg(feature = "tls")]
    if let Some(config) = setup.tls {
        let Some(tls) = conn::handshake(&mut ticket, stream, config).await else {
            return;
        };
        conn::serve_io(&mut ticket, &setup.http, tls, service).await;
        return;
    }
    conn::serve_io(&mut ticket, &setup.http, stream, service).await;
}

/// Passes `stream`'s descriptor to worker `target`'s ring (its receiver
/// serves it); whether it was sent. A stream whose descriptor cannot be
/// taken (never, for one just accepted) is dropped, its place given back.
fn pass_on(
    stream: TcpStream,
    ring: std::os::fd::RawFd,
    state: &Arc<Shared>,
    target: usize,
) -> bool {
    let (Ok(std), Ok(worker)) = (stream.into_std(), u8::try_from(target)) else {
        drop(Ticket::new(state.clone(), target));
        return false;
    };
    let fd = std.into_raw_fd();
    let sent = crate::context::with_current(|w| {
        w.driver.borrow_mut().send_fd(ring, state.key(), worker, fd)
    })
    .unwrap_or(Err(fd));
    match sent {
        Ok(()) => true,
        // Not on an io_uring worker after all: close it, give its place back.
        Err(fd) => {
            // SAFETY: `fd` came from `into_raw_fd` above and nothing else owns it.
            drop(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) });
            drop(Ticket::new(state.clone(), target));
            false
        }
    }
}

/// Worker `here`'s receiver: serves the connections other workers' rings
/// passed to this one, until the server is done.
pub(crate) async fn receive_loop<S, B>(here: usize, setup: Setup<S>)
where
    S: HttpService<B>,
    B: HttpBody,
{
    let state = setup.state.clone();
    let key = state.key();
    loop {
        let next = poll_fn(|cx| {
            let arrival =
                crate::context::with_current(|w| w.driver.borrow_mut().poll_arrival(key, cx));
            if let Some(Poll::Ready(a)) = arrival {
                return Poll::Ready(Some(a));
            }
            state.poll_finished(cx).map(|()| None)
        })
        .await;
        let Some(arrival) = next else {
            return;
        };
        // SAFETY: the sender gave the descriptor up (`into_raw_fd`) and the
        // driver hands each arrival out once: this is its only owner.
        let std = unsafe { std::net::TcpStream::from_raw_fd(arrival.fd) };
        let counted_on = usize::from(arrival.counted_on);
        if counted_on != here {
            // The kernel refused to pass it on: it came back here.
            state.moved(counted_on, here);
        }
        let ticket = Ticket::new(state.clone(), here);
        match TcpStream::from_std(std) {
            Ok(stream) => drop(crate::spawn(connection(ticket, stream, setup.clone()))),
            Err(_) => drop(ticket),
        }
    }
}
