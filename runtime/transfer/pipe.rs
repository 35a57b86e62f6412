//! The per-thread pipes that carry a file to a socket without copying it
//! through user space, and one round through such a pipe.
//!
//! On io_uring, `send_file` takes this path for a range that is not in the
//! page cache (see `send_file.rs`): file → pipe as an `IORING_OP_SPLICE`,
//! which the kernel always runs on an io-wq thread (so a disk wait parks that
//! thread, not the worker), then pipe → socket as a non-blocking splice on the
//! worker itself: the pages are in the pipe, so that one never waits on a
//! disk, and a full socket returns `EAGAIN` and is waited for with
//! `IORING_OP_POLL_ADD` rather than by parking a kernel thread for as long as
//! a slow peer takes to read. A pipe enlarged with `F_SETPIPE_SZ` makes each
//! round move more.
//!
//! Creating a pipe costs about as much as a small transfer, so empty pipes are
//! kept per thread and reused; a pipe that may still hold bytes (any error,
//! or a transfer dropped mid-way) is closed instead. Pipes grow only as far
//! as a transfer needs: their capacity counts against the user's
//! `pipe-user-pages-soft` (64 MiB by default, shared by all the user's
//! processes), past which new pipes get two pages and cannot grow.

use std::cell::RefCell;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd};
use std::sync::OnceLock;

use crate::op::{splice_now, Interest, Op, PollAdd};
use crate::sys::{cvt, SharedFd};

/// The largest pipe capacity asked for with `F_SETPIPE_SZ` (if
/// `/proc/sys/fs/pipe-max-size` allows it). Measured on loopback, 64 MiB sent
/// through 64 KiB, 256 KiB and 1 MiB pipes ran at about 1.1, 2.3 and 3.3 GiB/s.
const PIPE_SIZE: usize = 1 << 20;

/// Empty pipes kept per thread for later transfers.
const CACHE_MAX: usize = 4;

thread_local! {
    /// Empty pipes, ready for the next transfer on this thread.
    static CACHE: RefCell<Vec<Pipe>> = const { RefCell::new(Vec::new()) };
}

/// A pipe used to carry file pages to a socket.
#[derive(Debug)]
pub(crate) struct Pipe {
    /// The read end: pipe → socket.
    read: SharedFd,
    /// The write end: file → pipe.
    write: SharedFd,
    /// Bytes the pipe holds when full (with page-aligned file offsets).
    capacity: usize,
    /// `F_SETPIPE_SZ` was refused (the user's pipe quota): do not ask again.
    stuck: bool,
}

impl Pipe {
    /// A cached empty pipe, or a new one; grown towards `len` bytes (up to
    /// [`PIPE_SIZE`]) if it is smaller.
    pub(crate) fn take(len: u64) -> io::Result<Pipe> {
        let cached = CACHE
            .try_with(|c| c.try_borrow_mut().ok().and_then(|mut c| c.pop()))
            .ok()
            .flatten();
        let mut pipe = match cached {
            Some(pipe) => pipe,
            None => Pipe::new()?,
        };
        pipe.grow(len);
        Ok(pipe)
    }

    /// Keeps the pipe for the next transfer on this thread. Call only when
    /// every splice on it has completed and it is known to be empty.
    pub(crate) fn give_back(self) {
        let _ = CACHE.try_with(|c| {
            if let Ok(mut c) = c.try_borrow_mut() {
                if c.len() < CACHE_MAX {
                    c.push(self);
                }
            }
        });
    }

    /// The read end.
    pub(crate) fn reader(&self) -> &SharedFd {
        &self.read
    }

    /// The write end.
    pub(crate) fn writer(&self) -> &SharedFd {
        &self.write
    }

    /// How many bytes one file → pipe splice should ask for.
    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    fn new() -> io::Result<Pipe> {
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two descriptors pipe2 writes.
        cvt(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } as isize)?;
        // SAFETY: pipe2 succeeded, so both fds are new and owned by nobody else.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        // SAFETY: F_GETPIPE_SZ on a pipe we own takes no pointer.
        let size = unsafe { libc::fcntl(fds[1], libc::F_GETPIPE_SZ) };
        Ok(Pipe {
            read: SharedFd::new(read),
            write: SharedFd::new(write),
            capacity: usize::try_from(size).unwrap_or(0).max(4096),
            stuck: false,
        })
    }

    /// Enlarges the (empty) pipe towards `len` bytes, at most [`PIPE_SIZE`] or
    /// the system's maximum; a refusal leaves it as it is.
    fn grow(&mut self, len: u64) {
        let limit = PIPE_SIZE.min(pipe_max_size());
        let want = usize::try_from(len).unwrap_or(usize::MAX).min(limit);
        if self.stuck || want <= self.capacity {
            return;
        }
        // The kernel rounds up to a power of two pages anyway.
        let want = want.next_power_of_two().min(limit) as libc::c_int;
        // SAFETY: F_SETPIPE_SZ on a pipe we keep open takes no pointer.
        match unsafe { libc::fcntl(self.write.raw(), libc::F_SETPIPE_SZ, want) } {
            n if n > 0 => self.capacity = n as usize,
            _ => self.stuck = true, // EPERM past the user's quota, EBUSY, …
        }
    }
}

/// `/proc/sys/fs/pipe-max-size`, read once per process (1 MiB if unreadable,
/// the kernel's default; `F_SETPIPE_SZ` then fails harmlessly if it is lower).
fn pipe_max_size() -> usize {
    static MAX: OnceLock<usize> = OnceLock::new();
    *MAX.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/fs/pipe-max-size")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(1 << 20)
    })
}

/// One round through a pipe: up to a pipe-full of `file` from `offset` (at
/// most `len` bytes) to the socket `sock`, which the caller has made
/// non-blocking (once, not every round). Returns the bytes sent, `0` at the
/// end of the file.
///
/// file → pipe is an `Op` (io_uring: io-wq, which may wait on the disk;
/// epoll: the blocking pool); pipe → socket is a non-blocking splice on this
/// thread, waiting with `IORING_OP_POLL_ADD` (or epoll) while the socket is
/// full: the pages are in the pipe already, so nothing there waits on a disk.
pub(crate) async fn send_through_pipe(
    sock: &SharedFd,
    file: &SharedFd,
    offset: u64,
    len: u64,
) -> io::Result<u64> {
    // Dropping `pipe` (on `?`, or with this future) closes it: it may hold bytes.
    let pipe = Pipe::take(len)?;
    let want = len.min(pipe.capacity() as u64) as u32;
    let filled = loop {
        match Op::splice(file, Some(offset), pipe.writer(), want).await {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            res => break res?,
        }
    };
    let mut left = filled;
    while left > 0 {
        // More follows unless this is the transfer's last byte.
        let more = if u64::from(left) < len {
            libc::SPLICE_F_MORE
        } else {
            0
        };
        match splice_now(
            pipe.reader(),
            None,
            sock,
            left,
            libc::SPLICE_F_NONBLOCK | more,
        ) {
            Ok(0) => {
                let e = io::Error::new(io::ErrorKind::WriteZero, "the socket took no bytes");
                return Err(e);
            }
            Ok(n) => left -= n.min(left),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                Op::<PollAdd>::poll_add(sock, Interest::Writable).await?;
            }
            Err(e) => return Err(e),
        }
    }
    pipe.give_back();
    Ok(u64::from(filled))
}

#[cfg(test)]
mod tests {
    //! The pipe path on both drivers (`send_file` takes it only on io_uring).

    use std::io::Read;
    use std::os::fd::OwnedFd;

    use super::*;
    use crate::{Builder, DriverKind};

    /// Pipe rounds until `len` bytes are sent or the file ends.
    async fn send_all(sock: &SharedFd, file: &SharedFd, offset: u64, len: u64) -> io::Result<u64> {
        sock.ensure_nonblocking();
        let mut sent = 0;
        while sent < len {
            match send_through_pipe(sock, file, offset + sent, len - sent).await? {
                0 => break,
                n => sent += n,
            }
        }
        Ok(sent)
    }

    #[test]
    fn splice_path_is_byte_exact_on_both_drivers() {
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 253) as u8).collect();
        let path = std::env::temp_dir().join(format!("rt-splice-{}", std::process::id()));
        std::fs::write(&path, &data).unwrap();
        for kind in [DriverKind::Uring, DriverKind::Epoll] {
            let Ok(rt) = Builder::new().driver(kind).build() else {
                continue; // io_uring unavailable here; the epoll pass still runs
            };
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
            let reader = std::thread::spawn(move || {
                let mut got = Vec::new();
                (&client).read_to_end(&mut got).map(|_| got)
            });
            let sock = SharedFd::new(OwnedFd::from(listener.accept().unwrap().0));
            let file = SharedFd::new_file(OwnedFd::from(std::fs::File::open(&path).unwrap()));
            // Twice: the second transfer reuses the cached pipe.
            let sent = rt.block_on(async {
                let a = send_all(&sock, &file, 1000, 2_000_000).await?;
                let b = send_all(&sock, &file, 2_500_000, 10_000_000).await?;
                io::Result::Ok((a, b))
            });
            assert_eq!(sent.unwrap(), (2_000_000, 500_000), "{kind:?}");
            drop((sock, rt));
            let got = reader.join().unwrap().unwrap();
            assert_eq!(got.len(), 2_500_000, "{kind:?}");
            assert!(got[..2_000_000] == data[1000..2_001_000], "{kind:?}");
            assert!(got[2_000_000..] == data[2_500_000..], "{kind:?}");
        }
        std::fs::remove_file(&path).unwrap();
    }
}
