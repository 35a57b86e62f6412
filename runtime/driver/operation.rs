//! The `Operation` trait: one kernel operation, described once for both drivers.
//!
//! An operation owns everything the kernel may touch while it runs (buffers,
//! paths, socket addresses, iovecs). io_uring builds a submission entry from it;
//! epoll tries the same syscall without blocking, or sends it to the blocking
//! pool when the fd is a regular file.

use std::any::Any;
use std::io;
use std::os::fd::RawFd;

use io_uring::squeue;

/// A readiness direction the epoll driver can wait for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Interest {
    /// `EPOLLIN`: data, a peer shutdown or an incoming connection.
    Readable,
    /// `EPOLLOUT`: buffer space or a finished connect.
    Writable,
}

/// What an epoll attempt of an operation found.
#[derive(Debug)]
pub(crate) enum Attempt {
    /// The syscall finished (successfully or not).
    Done(io::Result<u32>),
    /// The syscall returned `EAGAIN`: retry when `fd` reports `interest`.
    WouldBlock {
        /// The descriptor to wait on.
        fd: RawFd,
        /// Distinguishes this descriptor from an earlier one with the same number.
        fd_id: u64,
        /// The direction to wait for.
        interest: Interest,
    },
    /// The syscall may block (regular files): run it on the blocking pool.
    Blocking,
    /// The syscall finished and left `fd` without anything more for
    /// `interest` (a short read or write): the driver clears the ready bit,
    /// so the next op waits for an edge instead of trying a syscall that
    /// would return `EAGAIN`. Only a syscall on this worker's thread, with no
    /// `epoll_wait` since, may say so: a later edge sets the bit again.
    Drained {
        /// The syscall's result.
        res: io::Result<u32>,
        /// The descriptor that has nothing more.
        fd: RawFd,
        /// See [`Attempt::WouldBlock`].
        fd_id: u64,
        /// The direction that has nothing more.
        interest: Interest,
    },
}

impl Attempt {
    /// Classifies a non-blocking syscall's result: `EAGAIN` waits for readiness.
    pub(crate) fn from_syscall(
        res: io::Result<u32>,
        fd: RawFd,
        fd_id: u64,
        interest: Interest,
    ) -> Attempt {
        match res {
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => Attempt::WouldBlock {
                fd,
                fd_id,
                interest,
            },
            res => Attempt::Done(res),
        }
    }

    /// As [`from_syscall`](Attempt::from_syscall) for a stream read or write
    /// of `asked` bytes: moving fewer (but some) means the socket's buffer
    /// is now empty (read) or full (write), so the result is `Drained`.
    pub(crate) fn from_stream_syscall(
        res: io::Result<u32>,
        asked: usize,
        fd: RawFd,
        fd_id: u64,
        interest: Interest,
    ) -> Attempt {
        match res {
            Ok(n) if n > 0 && (n as usize) < asked => Attempt::Drained {
                res,
                fd,
                fd_id,
                interest,
            },
            res => Attempt::from_syscall(res, fd, fd_id, interest),
        }
    }
}

/// One kernel operation and everything the kernel may touch while it runs.
///
/// # Safety
///
/// Every pointer `uring_entry` puts in the entry points into `self` or into
/// memory `self` owns. The driver boxes `self` first and neither moves nor drops
/// the box until the last completion is reaped. An op with `IN_PLACE = true`
/// instead points only into memory it owns that does not move with it (a
/// buffer's heap block): it is not boxed, but that memory is neither freed
/// nor reused until the last completion is reaped.
///
/// `run_blocking` runs on a blocking-pool thread while the worker keeps the op
/// in its slot: it may use only plain data that `epoll_attempt` prepared on the
/// worker (raw pointers and lengths of buffers, fd numbers, owned paths),
/// never an `IoBuf` method (buffers need not be `Send`: one may hold an `Rc`),
/// thread-local or reference-counted state.
pub(crate) unsafe trait Operation: 'static {
    /// What the caller gets back, buffers included.
    type Output;

    /// io_uring: build the submission entry (the driver sets `user_data`).
    fn uring_entry(&mut self) -> squeue::Entry;

    /// io_uring: whether the entry points only into memory the op owns
    /// elsewhere (a buffer's heap memory, which `IoBuf` keeps put), never
    /// into the op value itself, so the op may stay in its future, unboxed,
    /// while the kernel runs it (see `OpState::InKernel`). Saying `true`
    /// falls under the trait's safety contract.
    const IN_PLACE: bool = false;

    /// io_uring: called just before [`uring_entry`](Operation::uring_entry)
    /// with the id of the submitting ring's registered-file and -buffer
    /// tables; an op that may name registered slots keeps only those in
    /// that table. The default does nothing.
    #[inline]
    fn bind_registered(&mut self, _table: super::id::DriverId) {}

    /// epoll: try the syscall without blocking.
    fn epoll_attempt(&mut self) -> Attempt;

    /// epoll: the descriptor and direction `epoll_attempt` would wait on, so
    /// that an op whose fd the driver knows is not ready waits for the next
    /// edge without a syscall. `None` (the default): always attempt.
    fn epoll_target(&self) -> Option<(RawFd, u64, Interest)> {
        None
    }

    /// Blocking pool: the same syscall, allowed to block; only after
    /// `Attempt::Blocking`, and only with what that attempt prepared (see the
    /// trait's safety contract).
    fn run_blocking(&mut self) -> io::Result<u32> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "operation has no blocking form",
        ))
    }

    /// Both drivers: turn the kernel's answer into `Output`.
    fn complete(self, res: io::Result<u32>) -> Self::Output;

    /// io_uring: whether dropping the future of this op in flight cancels
    /// it in the kernel. A receive whose result its socket adopts
    /// ([`orphaned`](Operation::orphaned)) says no: it runs on, so its
    /// bytes reach the socket's queue instead of being dropped or raced.
    const CANCEL_ON_DROP: bool = true;

    /// The op finished after its future was dropped: by default its output
    /// is dropped (closing any fd it owns); a receive hands what it got to
    /// its socket's queue, for the next read, and says so (true).
    fn orphaned(self, res: io::Result<u32>) -> bool
    where
        Self: Sized,
    {
        drop(self.complete(res));
        false
    }
}

/// An operation with its type erased, as the driver's slab stores it.
pub(crate) trait Erased: 'static {
    /// See [`Operation::run_blocking`].
    fn run_blocking(&mut self) -> io::Result<u32>;
    /// Completes an op nobody waits for: the output (and any fd it owns) is
    /// dropped, or adopted by its socket (true).
    fn discard(self: Box<Self>, res: io::Result<u32>) -> bool;
    /// Owns the concrete type again, for a checked downcast.
    fn into_any(self: Box<Self>) -> Box<dyn Any>;
}

impl<T: Operation> Erased for T {
    fn run_blocking(&mut self) -> io::Result<u32> {
        Operation::run_blocking(self)
    }
    fn discard(self: Box<Self>, res: io::Result<u32>) -> bool {
        (*self).orphaned(res)
    }
    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}

/// Turns a raw syscall return value into `io::Result`, reading `errno` on -1.
pub(crate) fn cvt(res: isize) -> io::Result<u32> {
    if res < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(res as u32)
    }
}

/// Turns an io_uring completion result (`-errno` on failure) into `io::Result`.
pub(crate) fn cqe_result(res: i32) -> io::Result<u32> {
    if res < 0 {
        Err(io::Error::from_raw_os_error(-res))
    } else {
        Ok(res as u32)
    }
}
