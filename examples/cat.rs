//! `cat` for one file: read it with owned buffers, write it to stdout.
//!
//! ```text
//! cargo run --release --example cat -- FILE > copy-of-file
//! RUNTIME_DRIVER=epoll cargo run --release --example cat -- FILE | sha256sum
//! ```
//!
//! Reads go through the driver (io_uring: `IORING_OP_READ`); stdout may be a
//! terminal or a pipe that blocks, so each chunk is written on the blocking
//! pool while the next one is read: two buffers take turns.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use runtime::fs::File;
use runtime::JoinHandle;

#[path = "support/cli.rs"]
mod cli;

/// Bytes per read.
const CHUNK: usize = 256 * 1024;

const USAGE: &str = "usage: cat FILE";

/// The command line: the one file to print.
fn parse_args() -> Result<PathBuf, lexopt::Error> {
    use lexopt::prelude::*;
    let mut path = None;
    let mut parser = lexopt::Parser::from_env();
    while let Some(arg) = parser.next()? {
        match arg {
            Short('h') | Long("help") => cli::help(USAGE),
            Value(file) if path.is_none() => path = Some(PathBuf::from(file)),
            _ => return Err(arg.unexpected()),
        }
    }
    Ok(path.ok_or("which file?")?)
}

#[runtime::main]
async fn main() -> ExitCode {
    let path = cli::parse(USAGE, parse_args);
    match cat(&path).await {
        Ok(()) => ExitCode::SUCCESS,
        // `cat FILE | head`: the reader went away; not worth a message.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cat: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn cat(path: &Path) -> io::Result<()> {
    let file = File::open(path).await?;
    let mut pos = 0;
    let mut spare = Vec::with_capacity(CHUNK);
    let mut writing: Option<JoinHandle<io::Result<Vec<u8>>>> = None;
    loop {
        // This read runs while the pool writes the previous chunk.
        let (n, buf) = file.read_at(spare, pos).await;
        let n = n.map_err(|e| with_path(path, e))?;
        // The previous chunk must be out before this one goes, to keep the order.
        let written = match writing.take() {
            Some(job) => Some(job.await??),
            None => None,
        };
        if n == 0 {
            break;
        }
        pos += n as u64;
        writing = Some(runtime::spawn_blocking(move || {
            io::stdout().lock().write_all(&buf)?;
            let mut buf = buf;
            buf.clear();
            Ok(buf)
        }));
        spare = written.unwrap_or_else(|| Vec::with_capacity(CHUNK));
    }
    runtime::spawn_blocking(|| io::stdout().flush()).await??;
    file.close().await
}

/// `e` with the file's path, which a read error does not carry.
fn with_path(path: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("read {}: {e}", path.display()))
}
