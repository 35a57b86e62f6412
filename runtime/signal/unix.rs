//! Unix signal streams: [`signal`] returns a [`Signal`] whose
//! [`recv`](Signal::recv) completes once per delivery.

use std::future::{poll_fn, Future};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::registry;
use crate::driver::Interest;
use crate::op::{Op, PollAdd};
use crate::sys::SharedFd;

/// A signal number, with constructors for the common ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SignalKind(libc::c_int);

impl SignalKind {
    /// Any signal number, for example `libc::SIGUSR1` or `libc::SIGRTMIN() + 1`.
    /// [`signal`] refuses the ones that cannot or must not be caught.
    pub const fn from_raw(signum: libc::c_int) -> Self {
        SignalKind(signum)
    }

    /// The signal number.
    pub const fn as_raw_value(&self) -> libc::c_int {
        self.0
    }

    /// `SIGINT`: Ctrl-C at a terminal.
    pub const fn interrupt() -> Self {
        SignalKind(libc::SIGINT)
    }

    /// `SIGTERM`: the polite request to stop (`kill`, service managers).
    pub const fn terminate() -> Self {
        SignalKind(libc::SIGTERM)
    }

    /// `SIGHUP`: the terminal went away, or (by convention) reload settings.
    pub const fn hangup() -> Self {
        SignalKind(libc::SIGHUP)
    }

    /// `SIGQUIT`: Ctrl-\ at a terminal.
    pub const fn quit() -> Self {
        SignalKind(libc::SIGQUIT)
    }

    /// `SIGUSR1`, for the application's own use.
    pub const fn user_defined1() -> Self {
        SignalKind(libc::SIGUSR1)
    }

    /// `SIGUSR2`, for the application's own use.
    pub const fn user_defined2() -> Self {
        SignalKind(libc::SIGUSR2)
    }

    /// `SIGCHLD`: a child process stopped or exited.
    pub const fn child() -> Self {
        SignalKind(libc::SIGCHLD)
    }

    /// `SIGWINCH`: the terminal was resized.
    pub const fn window_change() -> Self {
        SignalKind(libc::SIGWINCH)
    }

    /// `SIGPIPE`: a write to a pipe or socket whose reader is gone.
    pub const fn pipe() -> Self {
        SignalKind(libc::SIGPIPE)
    }

    /// `SIGALRM`: a timer set with `alarm(2)` or `setitimer(2)` expired.
    pub const fn alarm() -> Self {
        SignalKind(libc::SIGALRM)
    }
}

impl From<libc::c_int> for SignalKind {
    fn from(signum: libc::c_int) -> Self {
        SignalKind(signum)
    }
}

/// A stream of deliveries of one signal, created by [`signal`].
///
/// Each `Signal` sees every delivery after its creation, independently of
/// other listeners of the same signal on this or any other worker. Deliveries
/// that arrive while nobody awaits [`recv`](Signal::recv) are remembered;
/// several of them may be reported as one. `Signal` belongs to the worker that
/// created it (`!Send`); create one per worker that needs it.
#[derive(Debug)]
pub struct Signal {
    /// The signal number.
    signum: libc::c_int,
    /// This listener's key in the registry of wakers.
    id: u64,
    /// The delivery count last reported (or seen at creation).
    seen: u64,
    /// This listener's duplicate of the process-wide eventfd, polled with
    /// the runtime's own I/O.
    fd: SharedFd,
    /// The readiness wait in flight on this worker, kept across `recv` calls.
    wait: Option<Op<PollAdd>>,
    /// The readiness wait failed: rely on the other listeners' wake-ups only.
    poll_failed: bool,
}

/// Starts listening for `kind`; from now on every delivery of that signal to
/// the process is seen by this listener.
///
/// The first listener of a signal number installs the process-wide handler,
/// which replaces that signal's default action (for `SIGINT` and `SIGTERM`:
/// terminate) for the rest of the process's life and chains to a handler
/// installed before it.
///
/// ```no_run
/// use runtime::signal::unix::{signal, SignalKind};
///
/// #[runtime::main]
/// async fn main() -> std::io::Result<()> {
///     let mut hangups = signal(SignalKind::hangup())?;
///     while hangups.recv().await.is_some() {
///         println!("reloading settings");
///     }
///     Ok(())
/// }
/// ```
///
/// # Errors
///
/// `InvalidInput` for a signal number that is out of range or must not be
/// caught (`SIGKILL`, `SIGSTOP`, `SIGILL`, `SIGFPE`, `SIGSEGV`, `SIGBUS`); an
/// error if no runtime runs on this thread (a `Signal` waits through its
/// worker's driver); otherwise the error of `eventfd(2)`, `fcntl(2)` or
/// `sigaction(2)`.
pub fn signal(kind: SignalKind) -> io::Result<Signal> {
    if crate::context::current().is_none() {
        return Err(io::Error::other(
            "no runtime on this thread: create signal listeners inside runtime::block_on or a task",
        ));
    }
    let signum = kind.0;
    let seen = registry::listen(signum)?;
    Ok(Signal {
        signum,
        id: registry::next_id(),
        seen,
        fd: SharedFd::new(registry::dup_eventfd()?),
        wait: None,
        poll_failed: false,
    })
}

impl Signal {
    /// Waits for the next delivery of the signal; `Some(())` once it came.
    ///
    /// Never returns `None` today (the handler stays installed for the life
    /// of the process); the `Option` matches tokio's signature.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: a delivery that arrives after the future is dropped is
    /// reported by the next `recv`.
    pub async fn recv(&mut self) -> Option<()> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Polls for the next delivery; the `poll_*` form of [`recv`](Signal::recv).
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<()>> {
        loop {
            if self.take_delivery() {
                return Poll::Ready(Some(()));
            }
            registry::register_waker(self.id, cx.waker());
            // A delivery between the first look and the registration woke
            // nobody: look again now that a wake-up cannot be missed.
            if self.take_delivery() {
                return Poll::Ready(Some(()));
            }
            if self.poll_failed {
                return Poll::Pending;
            }
            let fd = &self.fd;
            let wait = self
                .wait
                .get_or_insert_with(|| Op::poll_add(fd, Interest::Readable));
            match Pin::new(wait).poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(res) => {
                    self.wait = None;
                    self.poll_failed = res.is_err();
                    // Whoever sees the eventfd ready tells every listener.
                    registry::drain_and_wake();
                }
            }
        }
    }

    /// Whether a delivery happened since the last one reported; marks it seen.
    fn take_delivery(&mut self) -> bool {
        let now = registry::deliveries(self.signum);
        if now == self.seen {
            return false;
        }
        self.seen = now;
        true
    }
}

impl Drop for Signal {
    fn drop(&mut self) {
        registry::unregister_waker(self.id);
    }
}
