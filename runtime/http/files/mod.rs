//! Static files as a tower service ([`ServeDir`]), on runtime's `fs`, with
//! the file server's rules, whose files these are (`examples/file_server`
//! includes the pure ones: paths, validators, ranges, codings, types, dates).

mod body;
pub(crate) mod conditional;
pub(crate) mod date;
pub(crate) mod encoding;
pub(crate) mod mime;
pub(crate) mod path;
pub(crate) mod range;
mod serve_dir;

pub use body::FileBody;
pub use serve_dir::{ServeDir, ServeDirFuture};
