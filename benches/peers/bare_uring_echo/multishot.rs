//! `--mode multishot`: direct descriptors and one multishot `Recv` per
//! connection, fed from the provided-buffer ring (`buf_ring.rs`). Each
//! connection tracks what of it is in flight, because a buffer goes back to
//! the ring only once it is sent, and a slot closes only once nothing of it
//! is in flight.

use std::collections::VecDeque;
use std::io;

use io_uring::types::Fixed;
use io_uring::{cqueue, opcode, IoUring};

use crate::buf_ring::{BufRing, BUF_GROUP};
use crate::ring::Ring;
use crate::server::Echo;
use crate::{insert, slot, user_data, CANCEL, CLOSE, RECV, SEND};

/// Received chunks a connection may hold before its recv pauses, so that a
/// peer that sends without reading its echoes cannot take every buffer.
const MAX_QUEUED: usize = 8;

/// Multishot mode's connections, indexed by direct slot, and their buffers.
pub(crate) struct Multishot {
    /// Indexed by direct slot; `None` once closed.
    conns: Vec<Option<MultishotConn>>,
    /// Where each multishot recv takes its buffers from.
    bufs: BufRing,
    /// Connections whose recv ended with ENOBUFS. They are armed again once
    /// buffers are back.
    starved: Vec<u32>,
}

#[derive(Default)]
struct MultishotConn {
    /// A multishot recv is armed: its last completion (without F_MORE) has
    /// not been reaped yet.
    recv_armed: bool,
    /// A send is in flight. It reads the front chunk, which stays queued
    /// until the send completes.
    sending: bool,
    /// The connection is ending. It closes once nothing of it is in flight.
    closing: bool,
    /// An AsyncCancel for the armed recv has been submitted, to pause it
    /// (queue full) or to end the connection.
    cancel_sent: bool,
    /// Data received but not yet fully sent back, in order.
    queue: VecDeque<Chunk>,
}

impl MultishotConn {
    fn cancel_recv(&mut self, ring: &mut Ring, key: u32) -> io::Result<()> {
        if !self.recv_armed || self.cancel_sent {
            return Ok(());
        }
        self.cancel_sent = true;
        let cancel = opcode::AsyncCancel::new(user_data(RECV, key))
            .build()
            .user_data(user_data(CANCEL, key));
        ring.push(cancel)
    }
}

/// One received buffer on its way back to the peer.
struct Chunk {
    /// The provided buffer that holds it.
    bid: u16,
    /// Bytes received into it.
    len: u32,
    /// How many of them have been sent back.
    sent: u32,
}

impl Multishot {
    /// No connections yet, and a provided-buffer ring registered with
    /// `uring` and filled.
    pub(crate) fn new(uring: &IoUring) -> io::Result<Multishot> {
        Ok(Multishot {
            conns: Vec::new(),
            bufs: BufRing::new(uring)?,
            starved: Vec::new(),
        })
    }

    fn arm_recv(&mut self, ring: &mut Ring, key: u32) -> io::Result<()> {
        slot(&mut self.conns, key).recv_armed = true;
        let entry = opcode::RecvMulti::new(Fixed(key), BUF_GROUP)
            .build()
            .user_data(user_data(RECV, key));
        ring.push(entry)
    }

    fn send_front(&mut self, ring: &mut Ring, key: u32) -> io::Result<()> {
        let conn = slot(&mut self.conns, key);
        let Some(chunk) = conn.queue.front() else {
            unreachable!("send_front with nothing queued");
        };
        conn.sending = true;
        let ptr = self.bufs.buf(chunk.bid).wrapping_add(chunk.sent as usize);
        let entry = opcode::Send::new(Fixed(key), ptr, chunk.len - chunk.sent)
            .flags(libc::MSG_NOSIGNAL) // a gone peer is EPIPE, not SIGPIPE
            .build()
            .user_data(user_data(SEND, key));
        ring.push(entry)
    }

    /// Arms the recv again if it has ended and the connection takes more:
    /// not closing, and its queue below `MAX_QUEUED`.
    fn resume(&mut self, ring: &mut Ring, key: u32) -> io::Result<()> {
        let conn = slot(&mut self.conns, key);
        if conn.recv_armed || conn.closing || conn.queue.len() >= MAX_QUEUED {
            return Ok(());
        }
        self.arm_recv(ring, key)
    }

    fn recv_done(&mut self, ring: &mut Ring, key: u32, res: i32, flags: u32) -> io::Result<()> {
        let conn = slot(&mut self.conns, key);
        if !cqueue::more(flags) {
            (conn.recv_armed, conn.cancel_sent) = (false, false);
        }
        let bid = cqueue::buffer_select(flags);
        if bid.is_some() {
            self.bufs.picked();
        }
        let Some(bid) = bid.filter(|_| res > 0) else {
            if let Some(bid) = bid {
                self.bufs.give_back(bid);
            }
            return match -res {
                _ if conn.closing => self.finish(ring, key),
                libc::ENOBUFS => {
                    self.starved.push(key);
                    Ok(())
                }
                // Our cancel paused it: resume once the queue drains.
                libc::ECANCELED => self.resume(ring, key),
                // 0 (the peer closed) or an error such as ECONNRESET.
                _ => self.finish(ring, key),
            };
        };
        conn.queue.push_back(Chunk {
            bid,
            len: res as u32,
            sent: 0,
        });
        if conn.closing {
            return self.finish(ring, key);
        }
        if conn.queue.len() >= MAX_QUEUED {
            // The peer sends faster than it reads: pause its recv.
            conn.cancel_recv(ring, key)?;
        }
        if !conn.sending {
            self.send_front(ring, key)?;
        }
        self.resume(ring, key)
    }

    fn send_done(&mut self, ring: &mut Ring, key: u32, res: i32) -> io::Result<()> {
        let conn = slot(&mut self.conns, key);
        conn.sending = false;
        if res <= 0 || conn.closing {
            return self.finish(ring, key);
        }
        let Some(chunk) = conn.queue.front_mut() else {
            unreachable!("a send completed with nothing queued");
        };
        chunk.sent += res as u32;
        if chunk.sent < chunk.len {
            return self.send_front(ring, key);
        }
        let bid = chunk.bid;
        conn.queue.pop_front();
        let queued = !conn.queue.is_empty();
        self.bufs.give_back(bid);
        if queued {
            self.send_front(ring, key)?;
        }
        self.resume(ring, key)
    }

    /// Ends connection `key`. It returns the connection's buffers, cancels
    /// its recv, and closes it once nothing of it is in flight. Each of
    /// those completions calls it again.
    fn finish(&mut self, ring: &mut Ring, key: u32) -> io::Result<()> {
        let conn = slot(&mut self.conns, key);
        conn.closing = true;
        if conn.sending {
            return Ok(()); // the send still reads the front buffer
        }
        for chunk in conn.queue.drain(..) {
            self.bufs.give_back(chunk.bid);
        }
        if conn.recv_armed {
            return conn.cancel_recv(ring, key);
        }
        self.conns[key as usize] = None;
        // The slot is freed when the close runs. Only then may accept hand
        // out `key` again.
        let close = opcode::Close::new(Fixed(key))
            .build()
            .user_data(user_data(CLOSE, key));
        ring.push(close)
    }
}

impl Echo for Multishot {
    const NAME: &'static str = "multishot";
    const DIRECT: bool = true;

    fn accepted(&mut self, ring: &mut Ring, key: u32) -> io::Result<()> {
        insert(&mut self.conns, key, MultishotConn::default());
        self.arm_recv(ring, key)
    }

    fn complete(
        &mut self,
        ring: &mut Ring,
        op: u64,
        key: u32,
        res: i32,
        flags: u32,
    ) -> io::Result<()> {
        match op {
            RECV => self.recv_done(ring, key, res, flags),
            SEND => self.send_done(ring, key, res),
            CANCEL => Ok(()), // the recv's own last completion follows
            CLOSE => {
                if res < 0 {
                    let e = io::Error::from_raw_os_error(-res);
                    eprintln!("bare_uring_echo: close: {e}");
                }
                Ok(())
            }
            _ => unreachable!("unknown op {op}"),
        }
    }

    fn after_batch(&mut self, ring: &mut Ring) -> io::Result<()> {
        self.bufs.publish();
        // Checking `free` rather than "returned in this batch" also covers an
        // ENOBUFS reaped after the buffers came back.
        if self.bufs.free == 0 || self.starved.is_empty() {
            return Ok(());
        }
        for key in std::mem::take(&mut self.starved) {
            // The connection may have ended since (its slot even reused).
            if let Some(Some(_)) = self.conns.get(key as usize) {
                self.resume(ring, key)?;
            }
        }
        Ok(())
    }
}
