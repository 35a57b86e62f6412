//! Storage shared by `SendMsg`, `RecvMsg`, `Readv` and `Writev`: the boxed `msghdr` with its
//! socket address, and buffer lists as `iovec` arrays.
//!
//! The kernel reads (and for `recvmsg` writes) the `msghdr`, the address and
//! the `iovec` array through pointers until the operation completes, so all
//! three live on the heap, owned by the op: moving the op moves none of them.

use super::SockAddr;
use crate::buf::{IoBuf, IoBufMut};

/// A `msghdr` and the address it names, boxed by the ops that use it.
pub(crate) struct MsgHeader {
    /// What `sendmsg`/`recvmsg` get; its pointers aim at `addr` and the op's iovecs.
    pub(crate) msg: libc::msghdr,
    /// Destination of a send (`None`: the connected peer), or where a receive
    /// stores the source.
    pub(crate) addr: Option<SockAddr>,
}

impl MsgHeader {
    /// A header naming `addr`, with no iovecs yet.
    pub(crate) fn new(addr: Option<SockAddr>) -> Box<Self> {
        Box::new(MsgHeader {
            // SAFETY: `msghdr` is integers and pointers, for which all zeroes
            // (null, zero lengths) is valid.
            msg: unsafe { std::mem::zeroed() },
            addr,
        })
    }

    /// Points `msg` at `iov` and, if there is one, the address (for a send).
    pub(crate) fn prepare_send(&mut self, iov: &mut [libc::iovec]) -> *const libc::msghdr {
        self.msg.msg_iov = iov.as_mut_ptr();
        self.msg.msg_iovlen = iov.len() as _;
        match &mut self.addr {
            Some(addr) => {
                self.msg.msg_namelen = addr.len();
                self.msg.msg_name = addr.as_mut_ptr().cast();
            }
            None => {
                self.msg.msg_name = std::ptr::null_mut();
                self.msg.msg_namelen = 0;
            }
        }
        &self.msg
    }

    /// Points `msg` at `iov` and at the whole address storage (for a receive).
    pub(crate) fn prepare_recv(&mut self, iov: &mut [libc::iovec]) -> *mut libc::msghdr {
        self.msg.msg_iov = iov.as_mut_ptr();
        self.msg.msg_iovlen = iov.len() as _;
        let addr = self.addr.get_or_insert_with(SockAddr::empty);
        self.msg.msg_name = addr.as_mut_ptr().cast();
        self.msg.msg_namelen = SockAddr::empty().len();
        self.msg.msg_flags = 0;
        &mut self.msg
    }

    /// After a receive: the source address as the kernel reported it (a
    /// length of 0 when the source has no name, such as a stream peer).
    pub(crate) fn received_addr(&self) -> SockAddr {
        let addr = self.addr.unwrap_or_else(SockAddr::empty);
        SockAddr::from_parts(*addr.storage(), self.msg.msg_namelen)
    }
}

/// Buffers a send reads from: one buffer ([`One`]) or a `Vec` of them.
pub(crate) trait IoVecs: 'static {
    /// Pushes one iovec per buffer over its initialised bytes (`IoBuf`
    /// keeps those addresses valid while `self` lives unchanged).
    fn fill(&self, iov: &mut Vec<libc::iovec>);
}

/// Buffers a receive writes into: one buffer ([`One`]) or a `Vec` of them.
pub(crate) trait IoVecsMut: 'static {
    /// Pushes one iovec per buffer over all of its memory (`bytes_total`).
    fn fill_mut(&mut self, iov: &mut Vec<libc::iovec>);

    /// Marks `n` received bytes initialised, filling the buffers in order.
    ///
    /// # Safety
    ///
    /// The kernel wrote the first `n` bytes of the iovecs `fill_mut` produced.
    unsafe fn set_init(&mut self, n: usize);
}

/// A single buffer, treated as a list of one.
#[derive(Debug)]
pub(crate) struct One<B>(pub(crate) B);

/// An iovec over `len` bytes at `ptr`.
fn iovec(ptr: *const u8, len: usize) -> libc::iovec {
    libc::iovec {
        iov_base: ptr.cast_mut().cast(),
        iov_len: len,
    }
}

impl<B: IoBuf> IoVecs for One<B> {
    fn fill(&self, iov: &mut Vec<libc::iovec>) {
        iov.push(iovec(self.0.stable_ptr(), self.0.bytes_init()));
    }
}

impl<B: IoBuf> IoVecs for Vec<B> {
    fn fill(&self, iov: &mut Vec<libc::iovec>) {
        iov.extend(self.iter().map(|b| iovec(b.stable_ptr(), b.bytes_init())));
    }
}

impl<B: IoBufMut> IoVecsMut for One<B> {
    fn fill_mut(&mut self, iov: &mut Vec<libc::iovec>) {
        iov.push(iovec(self.0.stable_mut_ptr(), self.0.bytes_total()));
    }

    unsafe fn set_init(&mut self, n: usize) {
        let n = n.min(self.0.bytes_total());
        // SAFETY: the caller promises the kernel wrote these `n` bytes.
        unsafe { self.0.set_init(n) };
    }
}

impl<B: IoBufMut> IoVecsMut for Vec<B> {
    fn fill_mut(&mut self, iov: &mut Vec<libc::iovec>) {
        iov.extend(
            self.iter_mut()
                .map(|b| iovec(b.stable_mut_ptr(), b.bytes_total())),
        );
    }

    unsafe fn set_init(&mut self, mut n: usize) {
        for b in self.iter_mut() {
            if n == 0 {
                break;
            }
            let here = n.min(b.bytes_total());
            // SAFETY: the kernel fills iovecs in order, so these `here` bytes were written.
            unsafe { b.set_init(here) };
            n -= here;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vec_set_init_spreads_in_order() {
        let mut bufs = vec![Vec::<u8>::with_capacity(2), Vec::with_capacity(4)];
        let mut iov = Vec::new();
        bufs.fill_mut(&mut iov);
        assert_eq!(iov.len(), 2);
        for v in iov.iter() {
            // SAFETY: each iovec covers its buffer's capacity; this plays the kernel's part.
            unsafe { v.iov_base.cast::<u8>().write_bytes(b'x', v.iov_len) };
        }
        let total = iov[0].iov_len + 1;
        // SAFETY: the first `total` bytes across the iovecs were just written.
        unsafe { bufs.set_init(total) };
        assert_eq!(bufs[0].len(), iov[0].iov_len);
        assert_eq!(bufs[1], b"x");
    }
}
