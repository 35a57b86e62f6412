//! Transfer algorithms built from several ops: `send_file` (file → socket,
//! a path chosen per driver) and the per-thread pipe cache it uses.

mod cachestat;
mod pipe;
mod send_file;

pub(crate) use send_file::send_file;
