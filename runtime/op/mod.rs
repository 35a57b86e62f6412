//! The futures of kernel operations and one file per operation, each
//! implementing both drivers.
//!
//! An op type owns everything the kernel may touch while it runs and
//! implements [`Operation`]; the public types in `net` and `fs` await it
//! through an [`Op`] future. Adding an operation
//! means adding one file here. Descriptor and address plumbing lives in
//! `sys/`, algorithms built from several ops in `transfer/`.

mod op_future;
pub(crate) mod poll_io;
mod ready;
mod receive;
mod receivers;

mod accept;
mod close;
mod connect;
mod fallocate;
mod fixed;
mod fsync;
mod link_at;
mod mkdir_at;
#[cfg(test)]
mod nop;
mod open_at;
mod open_at2;
mod poll_add;
mod read;
mod read_fixed;
mod readv;
mod recv;
mod recv_msg;
mod rename_at;
mod send;
mod send_file;
mod send_msg;
pub(crate) mod send_queued;
pub(crate) mod send_zc;
mod shutdown;
mod splice;
mod statx;
mod symlink_at;
mod unlink_at;
mod write;
mod write_fixed;
mod writev;

#[cfg(test)]
mod lifecycle_tests;
#[cfg(test)]
mod tests;

pub(crate) use accept::Accept;
pub(crate) use connect::Connect;
pub(crate) use fixed::{Fixed, FixedFile};
pub(crate) use op_future::{driver_in_call, register, try_with_driver, with_driver, Op};
pub(crate) use poll_add::PollAdd;
pub(crate) use read::Read;
pub(crate) use read_fixed::ReadFixed;
pub(crate) use ready::poll_readable;
pub(crate) use receive::Receive;
pub(crate) use receivers::{AcceptConn, DatagramRecv, StreamRead, StreamReadv, StreamRecvBuf};
pub(crate) use recv::Recv;
pub(crate) use recv_msg::RecvMsg;
pub(crate) use send::Send;
pub(crate) use send_msg::SendMsg;
pub(crate) use send_zc::SendZc;
pub(crate) use splice::splice_now;
pub(crate) use statx::statx_fd_cached;
pub(crate) use write::Write;
pub(crate) use write_fixed::WriteFixed;

pub(crate) use crate::driver::{Attempt, Interest, Operation};
use crate::sys::{cvt, io_len, SharedFd};
