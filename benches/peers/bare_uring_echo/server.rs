//! The event loop both modes share. It reaps completions in batches, keeps
//! a multishot accept armed (pausing it after an error), and hands every
//! other completion to the mode, through the `Echo` trait defined here.

use std::io;
use std::net::TcpListener;
use std::os::fd::AsRawFd;

use io_uring::types::{Fd, Timespec};
use io_uring::{cqueue, opcode};

use crate::ring::{Ring, ENTRIES};
use crate::{user_data, ACCEPT, ACCEPT_PAUSED};

/// How long accept waits after an error before it is armed again. Out of
/// descriptors (EMFILE, ENFILE), an immediate retry would fail at once, over
/// and over. This is a static so that the timeout entry's pointer to it
/// stays valid.
static ACCEPT_PAUSE: Timespec = Timespec::new().nsec(10_000_000);

/// What differs between the modes: how a connection starts, and what its
/// completions do next.
pub(crate) trait Echo {
    /// The mode's name, as `--mode` takes it.
    const NAME: &'static str;
    /// Accept gives out direct descriptors instead of fds.
    const DIRECT: bool;
    /// A new connection, given as an fd or a direct slot.
    fn accepted(&mut self, ring: &mut Ring, key: u32) -> io::Result<()>;
    /// A completion for connection `key` (op is RECV, SEND, CANCEL or CLOSE).
    fn complete(
        &mut self,
        ring: &mut Ring,
        op: u64,
        key: u32,
        res: i32,
        flags: u32,
    ) -> io::Result<()>;
    /// Runs once every completion in a batch has been handled.
    fn after_batch(&mut self, _ring: &mut Ring) -> io::Result<()> {
        Ok(())
    }
}

/// The event loop: a multishot accept, plus the connections of one mode.
pub(crate) struct Server<E> {
    /// Declared first so that it is dropped first. Once the ring is closed,
    /// the kernel touches none of `echo`'s buffers.
    ring: Ring,
    /// Accepted from by a multishot accept, which is armed again when it ends.
    listener: TcpListener,
    /// The connections and their buffers.
    echo: E,
    /// Accept errors logged so far: each errno is logged once, so a server
    /// out of descriptors does not flood stderr.
    accept_errors: Vec<i32>,
}

impl<E: Echo> Server<E> {
    pub(crate) fn new(ring: Ring, listener: TcpListener, echo: E) -> Self {
        Server {
            ring,
            listener,
            echo,
            accept_errors: Vec::new(),
        }
    }

    /// Serves until the ring fails (or a signal ends the process).
    pub(crate) fn run(mut self) -> io::Result<()> {
        self.arm_accept()?;
        // Copied out so that handlers can push entries while the batch is
        // processed.
        let mut batch: Vec<(u64, i32, u32)> = Vec::with_capacity(2 * ENTRIES as usize);
        loop {
            self.ring.submit_and_wait()?;
            batch.clear();
            let cq = self.ring.uring.completion();
            batch.extend(cq.map(|c| (c.user_data(), c.result(), c.flags())));
            for &(user_data, res, flags) in &batch {
                let (op, key) = (user_data >> 32, user_data as u32);
                match op {
                    ACCEPT => self.accept_done(res, flags)?,
                    ACCEPT_PAUSED => self.arm_accept()?,
                    _ => self.echo.complete(&mut self.ring, op, key, res, flags)?,
                }
            }
            self.echo.after_batch(&mut self.ring)?;
        }
    }

    fn arm_accept(&mut self) -> io::Result<()> {
        let entry = opcode::AcceptMulti::new(Fd(self.listener.as_raw_fd()))
            .allocate_file_index(E::DIRECT)
            .build()
            .user_data(user_data(ACCEPT, 0));
        self.ring.push(entry)
    }

    fn accept_done(&mut self, res: i32, flags: u32) -> io::Result<()> {
        if res >= 0 {
            self.echo.accepted(&mut self.ring, res as u32)?;
        } else if !self.accept_errors.contains(&-res) {
            self.accept_errors.push(-res);
            let e = io::Error::from_raw_os_error(-res);
            eprintln!("bare_uring_echo: accept: {e} (logged once; accept pauses 10 ms after each)");
        }
        if cqueue::more(flags) {
            return Ok(()); // the multishot accept is still armed
        }
        if res >= 0 {
            return self.arm_accept();
        }
        let pause = opcode::Timeout::new(&ACCEPT_PAUSE)
            .build()
            .user_data(user_data(ACCEPT_PAUSED, 0));
        self.ring.push(pause)
    }
}
