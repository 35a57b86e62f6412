//! The layout of a multishot `recvmsg` completion: each datagram fills one
//! provided buffer as `io_uring_recvmsg_out` (16 bytes), then the source
//! address in a fixed room, then the payload. Every datagram socket's
//! multishot is armed with the one [`header`] below, which reserves that room
//! (and no control data), so every such buffer is read the same way.

use std::mem::size_of;

use io_uring::types::RecvMsgOut;

/// Room for the source address in each buffer: any address family's.
const NAME_ROOM: usize = size_of::<libc::sockaddr_storage>();

/// Bytes of each buffer before the payload.
pub(crate) const OVERHEAD: usize = 16 + NAME_ROOM;

/// The `msghdr` the kernel reads when a multishot `recvmsg` is armed: only
/// its name and control lengths count (the buffers come from the group).
struct Header(libc::msghdr);

// SAFETY: the header holds only null pointers and lengths, and is never
// written: sharing it between threads shares constants.
unsafe impl Sync for Header {}

static HEADER: Header = Header(libc::msghdr {
    msg_name: std::ptr::null_mut(),
    msg_namelen: NAME_ROOM as libc::socklen_t,
    msg_iov: std::ptr::null_mut(),
    msg_iovlen: 0,
    msg_control: std::ptr::null_mut(),
    msg_controllen: 0,
    msg_flags: 0,
});

/// The header to arm a multishot `recvmsg` with; it lives for the whole
/// process, so the kernel may read it whenever it likes.
pub(crate) fn header() -> *const libc::msghdr {
    &HEADER.0
}

/// A datagram in a provided buffer: its source address bytes (a
/// `sockaddr` of `name.len()` bytes) and its payload, or `None` for a
/// buffer too short to hold the layout (never from the kernel).
pub(crate) fn parse(buf: &[u8]) -> Option<(&[u8], &[u8])> {
    let out = RecvMsgOut::parse(buf, &HEADER.0).ok()?;
    let (name, payload) = (out.name_data().len(), out.payload_data().len());
    Some((&buf[16..16 + name], &buf[OVERHEAD..OVERHEAD + payload]))
}
