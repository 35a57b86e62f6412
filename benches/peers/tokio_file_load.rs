//! The file-read benchmark's peer: `examples/file_load.rs` on tokio's
//! `current_thread` runtime, with the same options and the same output line,
//! so `benches/run.py` compares the two on the same file in the same run.
//!
//! ```text
//! cargo run --release --example tokio_file_load -- FILE --mode rand --depth 32 --duration 5
//! cargo run --release --example tokio_file_load -- FILE --mode seq --direct --api pread
//! ```
//!
//! Options as `file_load` (`--mode rand|seq`, `--bs`, `--depth`, `--duration`,
//! `--direct`), plus `--api fs|pread`:
//!
//! - `fs` (the default): what a tokio user writes. Each of the `depth` tasks
//!   owns a `tokio::fs::File` and does `seek` + `read_exact`; tokio runs every
//!   call on its blocking pool and copies through its own buffer.
//! - `pread`: the cheapest positional read tokio has, `spawn_blocking(pread)`
//!   into the task's buffer. Needed for `O_DIRECT`, which wants an aligned
//!   buffer that `tokio::fs::File`'s internal `Vec` is not.

use std::fs;
use std::io::{self, SeekFrom};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use runtime::buf::AlignedBuf;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

/// What the command line asked for.
#[derive(Debug, Clone)]
struct Config {
    path: PathBuf,
    random: bool,
    bs: usize,
    depth: usize,
    duration: Duration,
    direct: bool,
    pread: bool,
}

const USAGE: &str = "usage: tokio_file_load FILE [--mode rand|seq] [--bs BYTES] [--depth N] [--duration SECS] [--direct] [--api fs|pread]";

fn parse() -> io::Result<Config> {
    let bad = |msg: String| io::Error::new(io::ErrorKind::InvalidInput, format!("{msg}\n{USAGE}"));
    let mut path = None;
    let (mut random, mut bs, mut depth, mut secs, mut direct, mut pread) =
        (true, None, 1, 5.0, false, false);
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
            "--api" => {
                pread = match value()?.as_str() {
                    "fs" => false,
                    "pread" => true,
                    a => return Err(bad(format!("--api {a}: fs or pread"))),
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
    Ok(Config {
        path: path.ok_or_else(|| bad("which file?".into()))?,
        random,
        bs,
        depth: depth.max(1),
        duration: Duration::from_secs_f64(secs),
        direct,
        pread,
    })
}

fn main() -> io::Result<()> {
    let cfg = parse()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = tokio::task::LocalSet::new();
    let (ops, elapsed, mut lat) = local.block_on(&rt, run(cfg.clone()))?;
    report(&cfg, ops, elapsed, &mut lat);
    Ok(())
}

/// The offsets one task reads: random blocks, or the shared sequential cursor.
struct Offsets {
    x: u64,
    blocks: u64,
    random: bool,
    next: Rc<std::cell::Cell<u64>>,
}

impl Offsets {
    fn next(&mut self) -> u64 {
        if self.random {
            self.x ^= self.x << 13;
            self.x ^= self.x >> 7;
            self.x ^= self.x << 17;
            self.x % self.blocks
        } else {
            let b = self.next.get();
            self.next.set((b + 1) % self.blocks);
            b
        }
    }
}

/// Runs the load; returns reads done, the time taken and each read's latency in ns.
async fn run(cfg: Config) -> io::Result<(u64, Duration, Vec<u32>)> {
    let flags = if cfg.direct { libc::O_DIRECT } else { 0 };
    let len = fs::metadata(&cfg.path)?.len();
    let blocks = len / cfg.bs as u64;
    if blocks == 0 {
        return Err(io::Error::other("the file is smaller than one block"));
    }
    let std_file = Arc::new(
        fs::OpenOptions::new()
            .read(true)
            .custom_flags(flags)
            .open(&cfg.path)?,
    );
    let start = Instant::now();
    let deadline = start + cfg.duration;
    let next = Rc::new(std::cell::Cell::new(0u64));
    let mut tasks = Vec::new();
    for t in 0..cfg.depth {
        let mut offsets = Offsets {
            x: 0x9E37_79B9_7F4A_7C15u64 ^ (t as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03),
            blocks,
            random: cfg.random,
            next: next.clone(),
        };
        let bs = cfg.bs;
        let mut lat = Vec::with_capacity(1 << 16);
        if cfg.pread {
            let file = std_file.clone();
            tasks.push(tokio::task::spawn_local(async move {
                // Aligned (for O_DIRECT) and full length: pread fills all of it.
                let mut buf = AlignedBuf::new(bs);
                buf.extend_from_slice(&vec![0; bs])?;
                // One clock read per read, as in file_load.
                let mut t0 = Instant::now();
                while t0 < deadline {
                    let off = offsets.next() * bs as u64;
                    let file = file.clone();
                    let (res, b) = tokio::task::spawn_blocking(move || {
                        let res = file.read_at(&mut buf, off);
                        (res, buf)
                    })
                    .await?;
                    let t1 = Instant::now();
                    lat.push((t1 - t0).as_nanos().min(u32::MAX as u128) as u32);
                    t0 = t1;
                    buf = b;
                    if res? != bs {
                        return Err(io::Error::other("short read"));
                    }
                }
                Ok(lat)
            }));
        } else {
            let mut file = tokio::fs::OpenOptions::new()
                .read(true)
                .custom_flags(flags)
                .open(&cfg.path)
                .await?;
            tasks.push(tokio::task::spawn_local(async move {
                let mut buf = vec![0u8; bs];
                let mut t0 = Instant::now();
                while t0 < deadline {
                    let off = offsets.next() * bs as u64;
                    file.seek(SeekFrom::Start(off)).await?;
                    file.read_exact(&mut buf).await?;
                    let t1 = Instant::now();
                    lat.push((t1 - t0).as_nanos().min(u32::MAX as u128) as u32);
                    t0 = t1;
                }
                Ok(lat)
            }));
        }
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    Ok((all.len() as u64, start.elapsed(), all))
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
