//! `--mode oneshot`: one `Recv` or `Send` in flight per connection, into
//! and out of the connection's own buffer, the way our runtime serves a
//! request. Connections are plain fds, indexed by fd.

use std::io;
use std::net::TcpStream;
use std::os::fd::{AsRawFd, FromRawFd};

use io_uring::opcode;
use io_uring::types::Fd;

use crate::ring::Ring;
use crate::server::Echo;
use crate::{insert, slot, user_data, BUF, RECV, SEND};

/// `IORING_RECVSEND_POLL_FIRST` (in the entry's `ioprio`): arm the poll
/// before trying the receive.
const IORING_RECVSEND_POLL_FIRST: u16 = 1;

/// Oneshot mode's connections, indexed by fd.
#[derive(Default)]
pub(crate) struct Oneshot {
    /// Indexed by fd; `None` once closed.
    conns: Vec<Option<OneshotConn>>,
}

/// A connection with one op in flight at a time: a recv or a send.
struct OneshotConn {
    /// Dropping it closes the socket, which happens only between ops.
    stream: TcpStream,
    /// Where the recv writes and the send reads. It is boxed, so it stays put
    /// when the table grows.
    buf: Box<[u8]>,
    /// Bytes from the last recv.
    len: usize,
    /// How many of them have been sent back.
    sent: usize,
}

impl Oneshot {
    fn recv(&mut self, ring: &mut Ring, key: u32, poll_first: bool) -> io::Result<()> {
        let conn = slot(&mut self.conns, key);
        let fd = Fd(conn.stream.as_raw_fd());
        let entry = opcode::Recv::new(fd, conn.buf.as_mut_ptr(), BUF as u32)
            .ioprio(if poll_first {
                IORING_RECVSEND_POLL_FIRST
            } else {
                0
            })
            .build()
            .user_data(user_data(RECV, key));
        ring.push(entry)
    }

    fn send(&mut self, ring: &mut Ring, key: u32) -> io::Result<()> {
        let conn = slot(&mut self.conns, key);
        let rest = &conn.buf[conn.sent..conn.len];
        let entry = opcode::Send::new(
            Fd(conn.stream.as_raw_fd()),
            rest.as_ptr(),
            rest.len() as u32,
        )
        .flags(libc::MSG_NOSIGNAL) // a gone peer is EPIPE, not SIGPIPE
        .build()
        .user_data(user_data(SEND, key));
        ring.push(entry)
    }
}

impl Echo for Oneshot {
    const NAME: &'static str = "oneshot";
    const DIRECT: bool = false;

    fn accepted(&mut self, ring: &mut Ring, fd: u32) -> io::Result<()> {
        // SAFETY: the accept completion hands over a new fd, owned by no one
        // else.
        let stream = unsafe { TcpStream::from_raw_fd(fd as i32) };
        let conn = OneshotConn {
            stream,
            buf: vec![0; BUF].into_boxed_slice(),
            len: 0,
            sent: 0,
        };
        insert(&mut self.conns, fd, conn);
        self.recv(ring, fd, false)
    }

    fn complete(&mut self, ring: &mut Ring, op: u64, key: u32, res: i32, _: u32) -> io::Result<()> {
        let conn = slot(&mut self.conns, key);
        match op {
            RECV if res > 0 => {
                (conn.len, conn.sent) = (res as usize, 0);
                self.send(ring, key)
            }
            SEND if res > 0 => {
                conn.sent += res as usize;
                if conn.sent < conn.len {
                    return self.send(ring, key);
                }
                // As in the runtime: after a short recv the socket is empty,
                // so arm the poll first rather than try a read that fails.
                let drained = conn.len < BUF;
                self.recv(ring, key, drained)
            }
            // 0: the peer closed. An error (ECONNRESET, EPIPE): it failed.
            // Either way, only this connection ends.
            RECV | SEND => {
                self.conns[key as usize] = None;
                Ok(())
            }
            _ => unreachable!("oneshot mode submits only recv and send"),
        }
    }
}
