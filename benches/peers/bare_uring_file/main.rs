//! The file-read benchmark's ceiling: random or sequential reads of one file
//! written straight on io_uring, with no async runtime. One ring, the file
//! registered (`IORING_REGISTER_FILES`, so ops name it by `types::Fixed`),
//! one registered buffer per read in flight (`IORING_REGISTER_BUFFERS`, read
//! with `IORING_OP_READ_FIXED`), the ring itself registered
//! (`IORING_REGISTER_RING_FDS`), the queue kept full, and each turn of the
//! loop one `io_uring_enter` that submits every new read and waits for the
//! next completion. `benches/run.py` measures it beside `examples/file_load.rs`
//! with the same options and the same output line.
//!
//! ```text
//! cargo run --release --example bare_uring_file -- FILE --mode rand --depth 32 --duration 5
//! cargo run --release --example bare_uring_file -- FILE --mode seq --bs 131072
//! cargo run --release --example bare_uring_file -- FILE --depth 32 --direct
//! ```
//!
//! Options as `file_load`: `--mode rand|seq`, `--bs BYTES` (4096 for rand,
//! 131072 for seq), `--depth N` reads in flight (1), `--duration SECS` (5),
//! `--direct` to open with `O_DIRECT`. Random offsets come from the same
//! xorshift, seeded the same way per slot, as `file_load`'s tasks.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

mod bufs;
mod enter;
mod reader;

/// What the command line asked for.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    /// The file to read.
    path: PathBuf,
    /// Random (`bs`-aligned) offsets, or the file in order, wrapping.
    pub(crate) random: bool,
    /// Bytes per read.
    pub(crate) bs: usize,
    /// Reads in flight.
    pub(crate) depth: usize,
    /// How long to keep submitting.
    pub(crate) duration: Duration,
    /// Open with `O_DIRECT`.
    direct: bool,
}

const USAGE: &str = "usage: bare_uring_file FILE [--mode rand|seq] [--bs BYTES] [--depth N] [--duration SECS] [--direct]";

fn parse() -> io::Result<Config> {
    let mut path = None;
    let (mut random, mut bs, mut depth, mut secs, mut direct) = (true, None, 1usize, 5.0, false);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| bad(format!("{arg} needs a value")))
        };
        match arg.as_str() {
            "--mode" => {
                random = match value()?.as_str() {
                    "rand" => true,
                    "seq" => false,
                    m => return Err(bad(format!("--mode {m}: rand or seq"))),
                }
            }
            "--bs" => bs = Some(value()?.parse().map_err(|e| bad(format!("--bs: {e}")))?),
            "--depth" => depth = value()?.parse().map_err(|e| bad(format!("--depth: {e}")))?,
            "--duration" => {
                secs = value()?
                    .parse()
                    .map_err(|e| bad(format!("--duration: {e}")))?
            }
            "--direct" => direct = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            flag if flag.starts_with("--") => return Err(bad(format!("unknown option {flag}"))),
            file => path = Some(PathBuf::from(file)),
        }
    }
    let bs: usize = bs.unwrap_or(if random { 4096 } else { 128 * 1024 });
    if bs == 0 || bs % 512 != 0 {
        return Err(bad("--bs must be a positive multiple of 512".into()));
    }
    if !(1..=4096).contains(&depth) {
        return Err(bad("--depth must be between 1 and 4096".into()));
    }
    Ok(Config {
        path: path.ok_or_else(|| bad("which file?".into()))?,
        random,
        bs,
        depth,
        duration: Duration::try_from_secs_f64(secs).map_err(|e| bad(format!("--duration: {e}")))?,
        direct,
    })
}

fn bad(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, format!("{msg}\n{USAGE}"))
}

fn main() -> io::Result<()> {
    let cfg = parse()?;
    let file = open(&cfg)?;
    let (ops, elapsed, mut lat, flags) = reader::run(&cfg, &file)?;
    eprintln!(
        "bare_uring_file: ring set up with {flags}; registered file, buffers and ring, READ_FIXED"
    );
    report(&cfg, ops, elapsed, &mut lat);
    Ok(())
}

/// Opens the file read-only, with `O_DIRECT` if asked.
fn open(cfg: &Config) -> io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true);
    if cfg.direct {
        opts.custom_flags(libc::O_DIRECT);
    }
    opts.open(&cfg.path)
}

/// Prints the line `benches/run.py` parses (the same as `file_load`'s).
fn report(cfg: &Config, ops: u64, elapsed: Duration, lat: &mut [u32]) {
    lat.sort_unstable();
    let pct = |p: f64| {
        let i = ((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1));
        lat.get(i).copied().unwrap_or(0) as f64 / 1000.0
    };
    let secs = elapsed.as_secs_f64();
    println!(
        "{} {} B, depth {}{}, {:.2}s: {:.0} IOPS, {:.1} MiB/s, p50 {:.1} µs, p99 {:.1} µs",
        if cfg.random { "rand" } else { "seq" },
        cfg.bs,
        cfg.depth,
        if cfg.direct { ", O_DIRECT" } else { "" },
        secs,
        ops as f64 / secs,
        ops as f64 * cfg.bs as f64 / secs / (1 << 20) as f64,
        pct(0.50),
        pct(0.99),
    );
}
