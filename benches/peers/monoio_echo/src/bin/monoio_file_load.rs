//! The file-read benchmark on monoio: `examples/file_load.rs` with the same
//! options and output line, so `benches/run.py` puts monoio's `File::read_at`
//! (`IORING_OP_READ` on its io_uring driver) beside `runtime` in one run.
//!
//! ```text
//! cargo build --release --manifest-path benches/peers/monoio_echo/Cargo.toml
//! monoio_file_load FILE --mode rand --depth 32 --duration 5 [--direct] [--ring defer]
//! ```
//!
//! `--depth N` tasks each loop: take an offset, `read_at` into their own
//! buffer (page-aligned, which `O_DIRECT` needs), record the latency.
//! `--ring default|coop|defer` as in `monoio_echo` (default: monoio's own).

use std::alloc::{self, Layout};
use std::cell::Cell;
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// What the command line asked for.
#[derive(Debug, Clone)]
struct Config {
    path: PathBuf,
    random: bool,
    bs: usize,
    depth: usize,
    duration: Duration,
    direct: bool,
}

const USAGE: &str = "usage: monoio_file_load FILE [--mode rand|seq] [--bs BYTES] [--depth N] [--duration SECS] [--direct] [--ring default|coop|defer]";

fn bad(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, format!("{msg}\n{USAGE}"))
}

fn parse() -> io::Result<(Config, io_uring::Builder)> {
    let mut ring = io_uring::IoUring::builder();
    let mut path = None;
    let (mut random, mut bs, mut depth, mut secs, mut direct) = (true, None, 1usize, 5.0, false);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| bad(format!("{arg} needs a value")));
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
            "--duration" => secs = value()?.parse().map_err(|e| bad(format!("--duration: {e}")))?,
            "--direct" => direct = true,
            "--ring" => match value()?.as_str() {
                "default" => {}
                "coop" => {
                    ring.setup_coop_taskrun();
                }
                "defer" => {
                    ring.setup_single_issuer().setup_defer_taskrun();
                }
                r => return Err(bad(format!("--ring {r}: default, coop or defer"))),
            },
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
    let cfg = Config {
        path: path.ok_or_else(|| bad("which file?".into()))?,
        random,
        bs,
        depth: depth.max(1),
        duration: Duration::try_from_secs_f64(secs).map_err(|e| bad(format!("--duration: {e}")))?,
        direct,
    };
    Ok((cfg, ring))
}

/// A page-aligned buffer for monoio's owned-buffer reads (`O_DIRECT` needs
/// the alignment; `Vec` has none).
struct Aligned {
    ptr: *mut u8,
    layout: Layout,
    init: usize,
}

impl Aligned {
    fn new(size: usize) -> Aligned {
        let layout = Layout::from_size_align(size, 4096).expect("valid layout");
        // SAFETY: `size` is a positive multiple of 512 (checked by `parse`).
        let ptr = unsafe { alloc::alloc_zeroed(layout) };
        if ptr.is_null() {
            alloc::handle_alloc_error(layout);
        }
        Aligned { ptr, layout, init: 0 }
    }
}

impl Drop for Aligned {
    fn drop(&mut self) {
        // SAFETY: allocated with this layout in `new`, freed only here.
        unsafe { alloc::dealloc(self.ptr, self.layout) };
    }
}

// SAFETY: heap memory that does not move with the value; `init <= size`.
unsafe impl monoio::buf::IoBuf for Aligned {
    fn read_ptr(&self) -> *const u8 {
        self.ptr
    }
    fn bytes_init(&self) -> usize {
        self.init
    }
}

// SAFETY: the memory is ours and writable for `layout.size()` bytes.
unsafe impl monoio::buf::IoBufMut for Aligned {
    fn write_ptr(&mut self) -> *mut u8 {
        self.ptr
    }
    fn bytes_total(&mut self) -> usize {
        self.layout.size()
    }
    unsafe fn set_init(&mut self, pos: usize) {
        self.init = pos.min(self.layout.size());
    }
}

fn main() -> io::Result<()> {
    let (cfg, ring) = parse()?;
    let entries = (cfg.depth as u32).next_power_of_two().max(256);
    let mut rt = monoio::RuntimeBuilder::<monoio::IoUringDriver>::new()
        .with_entries(entries)
        .uring_builder(ring)
        .build()?;
    let (ops, elapsed, mut lat) = rt.block_on(run(cfg.clone()))?;
    report(&cfg, ops, elapsed, &mut lat);
    Ok(())
}

/// Runs the load; returns reads done, the time taken and each read's latency in ns.
async fn run(cfg: Config) -> io::Result<(u64, Duration, Vec<u32>)> {
    let len = std::fs::metadata(&cfg.path)?.len();
    let blocks = len / cfg.bs as u64;
    if blocks == 0 {
        return Err(io::Error::other("the file is smaller than one block"));
    }
    let mut opts = monoio::fs::OpenOptions::new();
    opts.read(true);
    if cfg.direct {
        opts.custom_flags(libc::O_DIRECT);
    }
    let file = Rc::new(opts.open(&cfg.path).await?);
    let start = Instant::now();
    let deadline = start + cfg.duration;
    let next = Rc::new(Cell::new(0u64));
    let tasks: Vec<_> = (0..cfg.depth)
        .map(|t| {
            let (file, next, cfg) = (file.clone(), next.clone(), cfg.clone());
            monoio::spawn(async move {
                let mut x =
                    0x9E37_79B9_7F4A_7C15u64 ^ (t as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03);
                let mut buf = Aligned::new(cfg.bs);
                let mut lat = Vec::with_capacity(1 << 16);
                // One clock read per read, as in file_load.
                let mut t0 = Instant::now();
                while t0 < deadline {
                    let block = if cfg.random {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        x % blocks
                    } else {
                        let b = next.get();
                        next.set((b + 1) % blocks);
                        b
                    };
                    buf.init = 0;
                    let (res, b) = file.read_at(buf, block * cfg.bs as u64).await;
                    let t1 = Instant::now();
                    lat.push((t1 - t0).as_nanos().min(u32::MAX as u128) as u32);
                    t0 = t1;
                    buf = b;
                    if res? != cfg.bs {
                        return Err(io::Error::other("short read"));
                    }
                }
                Ok::<_, io::Error>(lat)
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await?);
    }
    Ok((all.len() as u64, start.elapsed(), all))
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
