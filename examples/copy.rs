//! `cp` for one file, with several reads and writes in flight at once.
//!
//! ```text
//! cargo run --release --example copy -- SRC DST [IN_FLIGHT] [CHUNK_KIB]
//! cargo run --release --example copy -- big.iso /tmp/big.iso 8 128 && cmp big.iso /tmp/big.iso
//! RUNTIME_DRIVER=epoll cargo run --release --example copy -- SRC DST
//! ```
//!
//! `IN_FLIGHT` tasks (default 8) each own one `CHUNK_KIB` buffer (default
//! 128) and loop: claim the next offset, read that chunk from SRC, write it at
//! the same offset in DST. Positional I/O needs no shared cursor, so the
//! chunks may finish in any order and the copy is still byte-exact. DST gets
//! SRC's permission bits when it is created.

use std::cell::Cell;
use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::rc::Rc;
use std::time::Instant;

use runtime::buf::IoBuf;
use runtime::fs::{File, OpenOptions};

#[path = "support/cli.rs"]
mod cli;

const USAGE: &str = "usage: copy SRC DST [IN_FLIGHT] [CHUNK_KIB]";

/// The command line: the two paths, reads in flight (8) and KiB per read (128).
fn parse_args() -> Result<(PathBuf, PathBuf, usize, usize), lexopt::Error> {
    use lexopt::prelude::*;
    let mut paths = Vec::new();
    let mut numbers = Vec::new();
    let mut parser = lexopt::Parser::from_env();
    while let Some(arg) = parser.next()? {
        match arg {
            Short('h') | Long("help") => cli::help(USAGE),
            Value(path) if paths.len() < 2 => paths.push(PathBuf::from(path)),
            Value(n) if numbers.len() < 2 => match n.parse::<usize>()? {
                0 => return Err("IN_FLIGHT and CHUNK_KIB must be positive integers".into()),
                n => numbers.push(n),
            },
            _ => return Err(arg.unexpected()),
        }
    }
    let [src, dst] = <[PathBuf; 2]>::try_from(paths).map_err(|_| "copy what where?")?;
    let in_flight = numbers.first().copied().unwrap_or(8);
    let chunk_kib = numbers.get(1).copied().unwrap_or(128);
    Ok((src, dst, in_flight, chunk_kib))
}

#[runtime::main]
async fn main() -> ExitCode {
    let (src, dst, in_flight, chunk_kib) = cli::parse(USAGE, parse_args);
    let start = Instant::now();
    match copy(&src, &dst, in_flight, chunk_kib * 1024).await {
        Ok(bytes) => {
            let secs = start.elapsed().as_secs_f64();
            eprintln!(
                "copied {bytes} bytes in {secs:.3} s ({:.0} MiB/s) on {}, {in_flight} x {chunk_kib} KiB in flight",
                bytes as f64 / (1 << 20) as f64 / secs.max(1e-9),
                runtime::driver_kind(),
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("copy: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn copy(src: &Path, dst: &Path, in_flight: usize, chunk: usize) -> io::Result<u64> {
    let src = File::open(src).await?;
    let meta = src.metadata().await?;
    if meta.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "SRC is a directory",
        ));
    }
    let len = meta.len();
    let dst = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(meta.mode() & 0o7777)
        .open(dst)
        .await?;
    let (src, dst) = (Rc::new(src), Rc::new(dst));
    // The next offset nobody has claimed; tasks on one worker share it without locks.
    let next = Rc::new(Cell::new(0u64));
    let workers: Vec<_> = (0..in_flight)
        .map(|_| runtime::spawn(worker(src.clone(), dst.clone(), next.clone(), len, chunk)))
        .collect();
    let mut copied = 0;
    let mut first_error = None;
    for w in workers {
        match w.await.map_err(io::Error::from).and_then(|r| r) {
            Ok(n) => copied += n,
            Err(e) => first_error = first_error.or(Some(e)),
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    drop(src);
    match Rc::try_unwrap(dst) {
        Ok(dst) => dst.close().await?, // reports a late write error (NFS)
        Err(_) => unreachable!("every worker has finished"),
    }
    Ok(copied)
}

/// Copies chunks until none is left; returns the bytes it copied.
async fn worker(
    src: Rc<File>,
    dst: Rc<File>,
    next: Rc<Cell<u64>>,
    len: u64,
    chunk: usize,
) -> io::Result<u64> {
    let mut buf = Vec::with_capacity(chunk);
    let mut copied = 0;
    loop {
        let pos = next.get();
        if pos >= len {
            return Ok(copied);
        }
        next.set(pos + chunk as u64);
        let want = (len - pos).min(chunk as u64) as usize;
        buf.clear();
        let (res, slice) = src.read_exact_at(buf.slice(..want), pos).await;
        buf = slice.into_inner();
        res?;
        let (res, back) = dst.write_all_at(buf, pos).await;
        buf = back;
        res?;
        copied += want as u64;
    }
}
