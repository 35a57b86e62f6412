//! A file-read load generator on `runtime`: D reads in flight from one
//! worker for a fixed time, then IOPS, throughput and p50/p99 latency.
//! `benches/run.py` runs it beside its tokio twin,
//! `benches/peers/tokio_file_load.rs`, on the same file.
//!
//! ```text
//! cargo run --release --example file_load -- FILE --mode rand --depth 32 --duration 5
//! cargo run --release --example file_load -- FILE --mode seq --bs 131072 --direct
//! cargo run --release --example file_load -- FILE --depth 32 --fixed   # registered file + buffers
//! cargo run --release --example file_load -- FILE --depth 32 --many    # one task, File::read_many
//! RUNTIME_DRIVER=epoll cargo run --release --example file_load -- FILE   # the fallback driver
//! ```
//!
//! Options: `--mode rand|seq` (rand: `bs`-aligned random offsets; seq: the
//! file in order, wrapping at its end), `--bs BYTES` (4096 for rand, 131072
//! for seq), `--depth N` reads in flight (1), `--duration SECS` (5),
//! `--direct` to open with `O_DIRECT` and read into an `AlignedBuf`,
//! `--fixed` to register the file (`File::register`) and read into
//! registered buffers (`FixedPool`, one `FixedBuf` per task):
//! `IORING_OP_READ_FIXED` on a `types::Fixed` slot. Where the kernel refuses
//! a registration the run goes on with plain ones and says why on stderr.
//! `--many` reads from one task through `File::read_many` (`depth` reads in
//! flight, `depth + 1` buffers) instead of `depth` tasks.
//!
//! Each of the `depth` tasks loops: take an offset, `read_at`, record the
//! latency. On io_uring a page-cache read completes inside the submitting
//! syscall; on epoll it is a `preadv2(RWF_NOWAIT)` on the worker (tokio::fs
//! sends every read to its blocking pool).

use std::cell::{Cell, RefCell};
use std::io;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant};

use runtime::buf::{AlignedBuf, FixedBuf, FixedPool, IoBufMut};
use runtime::fs::File;

#[path = "support/cli.rs"]
mod cli;

/// What the command line asked for.
#[derive(Debug, Clone)]
struct Config {
    path: PathBuf,
    random: bool,
    bs: usize,
    depth: usize,
    duration: Duration,
    direct: bool,
    fixed: bool,
    many: bool,
}

const USAGE: &str =
    "usage: file_load FILE [--mode rand|seq] [--bs BYTES] [--depth N] [--duration SECS] [--direct] [--fixed] [--many]";

fn parse_args() -> Result<Config, lexopt::Error> {
    use lexopt::prelude::*;
    let mut path = None;
    let (mut random, mut bs, mut depth, mut secs, mut direct) = (true, None, 1usize, 5.0, false);
    let (mut fixed, mut many) = (false, false);
    let mut parser = lexopt::Parser::from_env();
    while let Some(arg) = parser.next()? {
        match arg {
            Long("mode") => {
                random = match parser.value()?.string()?.as_str() {
                    "rand" => true,
                    "seq" => false,
                    m => return Err(format!("--mode {m}: rand or seq").into()),
                }
            }
            Long("bs") => bs = Some(parser.value()?.parse::<usize>()?),
            Long("depth") => depth = parser.value()?.parse()?,
            Long("duration") => secs = parser.value()?.parse()?,
            Long("direct") => direct = true,
            Long("fixed") => fixed = true,
            Long("many") => many = true,
            Short('h') | Long("help") => cli::help(USAGE),
            Value(file) if path.is_none() => path = Some(PathBuf::from(file)),
            _ => return Err(arg.unexpected()),
        }
    }
    let bs = bs.unwrap_or(if random { 4096 } else { 128 * 1024 });
    if bs == 0 || bs % 512 != 0 {
        return Err("--bs must be a positive multiple of 512".into());
    }
    Ok(Config {
        path: path.ok_or("which file?")?,
        random,
        bs,
        depth: depth.max(1),
        duration: Duration::try_from_secs_f64(secs).map_err(|e| format!("--duration: {e}"))?,
        direct,
        fixed,
        many,
    })
}

fn main() -> io::Result<()> {
    let cfg = cli::parse(USAGE, parse_args);
    let rt = runtime::Builder::new().workers(1).build()?;
    eprintln!("{}", rt.driver_info());
    let (ops, elapsed, mut lat) = rt.block_on(run(cfg.clone()))?;
    report(&cfg, ops, elapsed, &mut lat);
    Ok(())
}

/// Runs the load; returns reads done, the time taken and each read's latency in ns.
async fn run(cfg: Config) -> io::Result<(u64, Duration, Vec<u32>)> {
    let mut opts = File::options();
    opts.read(true);
    if cfg.direct {
        opts.custom_flags(libc::O_DIRECT);
    }
    let mut file = opts.open(&cfg.path).await?;
    // One registered buffer per task; `None`: plain `AlignedBuf`s.
    let pool = if cfg.fixed {
        if !file.register() {
            eprintln!("file_load: the file is not registered; plain descriptor");
        }
        // `--many` holds one buffer more than it has reads in flight.
        let pool = FixedPool::new(cfg.depth + usize::from(cfg.many), cfg.bs)?;
        if let Some(why) = pool.fallback_reason() {
            eprintln!("file_load: plain buffers: {why}");
        }
        Some(pool)
    } else {
        None
    };
    let file = Rc::new(file);
    let len = file.metadata().await?.len();
    let blocks = len / cfg.bs as u64;
    if blocks == 0 {
        return Err(io::Error::other("the file is smaller than one block"));
    }
    let start = Instant::now();
    let deadline = start + cfg.duration;
    if cfg.many {
        let n = cfg.depth + 1;
        let fixed: Option<Vec<FixedBuf>> = pool
            .as_ref()
            .map(|p| (0..n).map_while(|_| p.try_get()).collect());
        let (file, cfg) = (file.clone(), cfg.clone());
        // A task, as in the other mode: its wakes are a worker's task wakes.
        let lat = runtime::spawn(async move {
            match fixed {
                Some(bufs) => load_many(&file, &cfg, blocks, deadline, bufs).await,
                None => {
                    let bufs = (0..n).map(|_| AlignedBuf::new(cfg.bs)).collect();
                    load_many(&file, &cfg, blocks, deadline, bufs).await
                }
            }
        })
        .await
        .map_err(io::Error::other)??;
        return Ok((lat.len() as u64, start.elapsed(), lat));
    }
    let next = Rc::new(Cell::new(0u64)); // sequential mode: the next block
    let tasks: Vec<_> = (0..cfg.depth)
        .map(|t| {
            let (file, next, cfg) = (file.clone(), next.clone(), cfg.clone());
            let fixed = pool.as_ref().and_then(FixedPool::try_get);
            runtime::spawn(async move {
                match fixed {
                    Some(buf) => load(&file, &next, &cfg, t, blocks, deadline, buf).await,
                    None => {
                        load(
                            &file,
                            &next,
                            &cfg,
                            t,
                            blocks,
                            deadline,
                            AlignedBuf::new(cfg.bs),
                        )
                        .await
                    }
                }
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.map_err(io::Error::other)??);
    }
    Ok((all.len() as u64, start.elapsed(), all))
}

/// A buffer a task reads into: plain or registered.
trait ReadBuf: IoBufMut {
    /// Forgets what was read.
    fn reset(&mut self);
}

impl ReadBuf for AlignedBuf {
    fn reset(&mut self) {
        self.clear();
    }
}

impl ReadBuf for FixedBuf {
    fn reset(&mut self) {
        self.clear();
    }
}

/// One task's loop: reads of `cfg.bs` until `deadline`; each read's latency in ns.
async fn load<B: ReadBuf>(
    file: &File,
    next: &Cell<u64>,
    cfg: &Config,
    t: usize,
    blocks: u64,
    deadline: Instant,
    mut buf: B,
) -> io::Result<Vec<u32>> {
    let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ (t as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03);
    let mut lat = Vec::with_capacity(1 << 16);
    // One clock read per read: it ends one read's latency and starts the next's.
    let mut t0 = Instant::now();
    while t0 < deadline {
        let block = next_block(cfg.random, &mut x, next, blocks);
        buf.reset();
        let (res, b) = file.read_at(buf, block * cfg.bs as u64).await;
        let t1 = Instant::now();
        lat.push((t1 - t0).as_nanos().min(u32::MAX as u128) as u32);
        t0 = t1;
        buf = b;
        if res? != cfg.bs {
            return Err(io::Error::other("short read"));
        }
    }
    Ok(lat)
}

/// The next block to read: random (xorshift state `x`) or the one after
/// `next`, which the sequential readers share.
fn next_block(random: bool, x: &mut u64, next: &Cell<u64>, blocks: u64) -> u64 {
    if random {
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        *x % blocks
    } else {
        let b = next.get();
        next.set((b + 1) % blocks);
        b
    }
}

/// `--many`: one task keeps `cfg.depth` reads in flight through
/// `File::read_many`, with `bufs` (one more than the depth) going round.
async fn load_many<B: ReadBuf>(
    file: &File,
    cfg: &Config,
    blocks: u64,
    deadline: Instant,
    bufs: Vec<B>,
) -> io::Result<Vec<u32>> {
    let free = RefCell::new(bufs);
    // Each request's start, by request index (the order `reqs` yields them).
    let starts = RefCell::new(Vec::with_capacity(1 << 16));
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let next = Cell::new(0u64);
    let reqs = std::iter::from_fn(|| {
        let now = Instant::now();
        if now >= deadline {
            return None;
        }
        // Never empty: at most `depth` buffers are in `read_many` or on
        // their way back, and there is one more.
        let buf = free.borrow_mut().pop()?;
        let block = next_block(cfg.random, &mut x, &next, blocks);
        starts.borrow_mut().push(now);
        Some((block * cfg.bs as u64, buf))
    });
    let mut lat = Vec::with_capacity(1 << 16);
    let mut reads = file.read_many(reqs, cfg.depth);
    while let Some((i, (res, mut buf))) = reads.next().await {
        let t1 = Instant::now();
        let t0 = starts.borrow().get(i).copied().unwrap_or(t1);
        lat.push((t1 - t0).as_nanos().min(u32::MAX as u128) as u32);
        if res? != cfg.bs {
            return Err(io::Error::other("short read"));
        }
        buf.reset();
        free.borrow_mut().push(buf);
    }
    Ok(lat)
}

/// Prints the line `benches/run.py` parses.
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
