//! Reads of a 1 GiB file in the page cache: `runtime` on io_uring and on
//! epoll against tokio on its current_thread runtime, side by side.
//!
//! - `file_read_random_4k_qd32`: 32 tasks on one worker, each reading 4 KiB
//!   at random 4 KiB-aligned offsets, so 32 reads are in flight at once.
//!   Throughput is in reads per second (elements).
//! - `file_read_seq_128k`: the whole file, in order, with 128 KiB buffers:
//!   one read at a time (the loop a user writes first), and with 8 reads in
//!   flight at increasing offsets (how an io_uring user reads a file).
//!
//! tokio's peers: `tokio::fs::File` (every call goes through `spawn_blocking`,
//! a random read being a seek and a read), and `spawn_blocking(pread)` by hand,
//! the cheapest way tokio has to do a positional read. On epoll, `runtime`
//! sends file reads to its blocking pool too; on io_uring the kernel serves
//! them from the page cache inline.
//!
//! The file is made once under `target/bench-data/` and read in full right
//! before each measurement (the page cache here drops files idle for ~30 s);
//! its residency is printed, as `fincore` would show it.
//!
//! Pinned to one core (as below), tokio's blocking threads share the worker's
//! core and caches, which suits its sequential reads: unpinned on a 2-core
//! machine, tokio::fs read at about half the speed, `runtime` did not change.
//! Sequential 128 KiB reads from the page cache are bound by the kernel's
//! copy (`_copy_to_iter`, ~70-80% of cycles), so a plain `pread` loop with
//! no runtime is the ceiling for every entry here.
//!
//! ```text
//! taskset -c 1 cargo bench --bench file_read -- --noplot
//! ```

use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{
    criterion_group, criterion_main, BenchmarkGroup, Criterion, SamplingMode, Throughput,
};

mod support;

/// Size of the file.
const FILE_LEN: u64 = 1 << 30;
/// Size of a random read.
const BLOCK: usize = 4096;
/// Random reads in flight.
const DEPTH: usize = 32;
/// Random reads per task per iteration (one iteration: `DEPTH * READS_PER_TASK`).
const READS_PER_TASK: usize = 1024;
/// Buffer of a sequential read.
const SEQ_BUF: usize = 128 * 1024;
/// Sequential reads in flight for the pipelined variant.
const SEQ_DEPTH: usize = 8;

/// The bench file, created (with non-zero data, so nothing is a hole) if it
/// is missing or has the wrong size.
fn bench_file() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
    let path = dir.join("file_read-1GiB.bin");
    if fs::metadata(&path).map(|m| m.len()).ok() == Some(FILE_LEN) {
        return path;
    }
    fs::create_dir_all(&dir).expect("create target/bench-data");
    let tmp = dir.join("file_read-1GiB.tmp");
    let mut f = fs::File::create(&tmp).expect("create bench file");
    let mut chunk = vec![0u8; 8 << 20];
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    for _ in 0..FILE_LEN / chunk.len() as u64 {
        for b in chunk.chunks_exact_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            b.copy_from_slice(&x.to_le_bytes());
        }
        f.write_all(&chunk).expect("write bench file");
    }
    f.sync_all().expect("sync bench file");
    fs::rename(&tmp, &path).expect("rename bench file");
    path
}

/// Reads the whole file so it is in the page cache (again, up to three
/// times, if pages went missing meanwhile), and reports how much is.
fn warm(path: &Path) {
    let mut f = fs::File::open(path).expect("open bench file");
    let mut buf = vec![0u8; 4 << 20];
    let (mut resident, mut pages) = (0, 1);
    for _ in 0..3 {
        f.seek(SeekFrom::Start(0)).expect("rewind");
        while f.read(&mut buf).expect("warm read") > 0 {}
        (resident, pages) = residency(&f);
        if resident == pages {
            break;
        }
    }
    eprintln!(
        "page cache: {resident}/{pages} pages of {} resident ({:.1}%)",
        path.display(),
        resident as f64 * 100.0 / pages.max(1) as f64
    );
}

/// Pages of `f` in the page cache, and its size in pages (`mincore(2)`, what
/// `fincore` uses).
fn residency(f: &fs::File) -> (usize, usize) {
    use std::os::fd::AsRawFd;
    let len = FILE_LEN as usize;
    // SAFETY: a read-only shared mapping of an open file; unmapped below.
    let addr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ,
            libc::MAP_SHARED,
            f.as_raw_fd(),
            0,
        )
    };
    if addr == libc::MAP_FAILED {
        return (0, 0);
    }
    let pages = len.div_ceil(4096);
    let mut vec = vec![0u8; pages];
    // SAFETY: `addr` maps `len` bytes and `vec` has one byte per page.
    let ok = unsafe { libc::mincore(addr, len, vec.as_mut_ptr()) } == 0;
    // SAFETY: `addr` and `len` are the mapping made above.
    unsafe { libc::munmap(addr, len) };
    let resident = if ok {
        vec.iter().filter(|&&b| b & 1 == 1).count()
    } else {
        0
    };
    (resident, pages)
}

/// Few samples of one long iteration each: the whole run stays within minutes.
fn configure(group: &mut BenchmarkGroup<'_, WallTime>) {
    support::configure(group);
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .measurement_time(Duration::from_secs(5));
}

/// The random offsets of task `task`: the same for every runtime.
fn offsets(task: usize) -> Vec<u64> {
    let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ (task as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03);
    let blocks = FILE_LEN / BLOCK as u64;
    (0..READS_PER_TASK)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % blocks) * BLOCK as u64
        })
        .collect()
}

fn random_4k(c: &mut Criterion) {
    let path = bench_file();
    let offsets: Arc<Vec<Vec<u64>>> = Arc::new((0..DEPTH).map(offsets).collect());
    let mut group = c.benchmark_group("file_read_random_4k_qd32");
    configure(&mut group);
    group.throughput(Throughput::Elements((DEPTH * READS_PER_TASK) as u64));

    for (name, rt) in support::runtimes() {
        let file = Arc::new(rt.block_on(runtime::fs::File::open(&path)).expect("open"));
        warm(&path);
        group.bench_function(name, |b| {
            b.iter(|| {
                rt.block_on(async {
                    let tasks: Vec<_> = (0..DEPTH)
                        .map(|t| {
                            let (file, offsets) = (file.clone(), offsets.clone());
                            runtime::spawn(async move {
                                let mut buf = Vec::with_capacity(BLOCK);
                                for &off in &offsets[t] {
                                    let (res, b) = file.read_at(buf, off).await;
                                    assert_eq!(res.expect("read_at"), BLOCK);
                                    buf = b;
                                    buf.clear();
                                }
                            })
                        })
                        .collect();
                    for t in tasks {
                        t.await.expect("reader task");
                    }
                })
            })
        });
    }

    let rt = support::tokio_current_thread();
    let files: Vec<_> = (0..DEPTH)
        .map(|_| rt.block_on(tokio::fs::File::open(&path)).expect("open"))
        .map(|f| Arc::new(tokio::sync::Mutex::new(f)))
        .collect();
    warm(&path);
    group.bench_function("tokio::fs::File (seek + read)", |b| {
        b.iter(|| {
            rt.block_on(async {
                use tokio::io::{AsyncReadExt, AsyncSeekExt};
                let tasks: Vec<_> = (0..DEPTH)
                    .map(|t| {
                        let (file, offsets) = (files[t].clone(), offsets.clone());
                        tokio::spawn(async move {
                            let mut file = file.lock().await;
                            let mut buf = vec![0u8; BLOCK];
                            for &off in &offsets[t] {
                                file.seek(SeekFrom::Start(off)).await.expect("seek");
                                file.read_exact(&mut buf).await.expect("read");
                            }
                        })
                    })
                    .collect();
                for t in tasks {
                    t.await.expect("reader task");
                }
            })
        })
    });

    let std_file = Arc::new(fs::File::open(&path).expect("open"));
    warm(&path);
    group.bench_function("tokio spawn_blocking(pread)", |b| {
        b.iter(|| {
            rt.block_on(async {
                let tasks: Vec<_> = (0..DEPTH)
                    .map(|t| {
                        let (file, offsets) = (std_file.clone(), offsets.clone());
                        tokio::spawn(async move {
                            let mut buf = vec![0u8; BLOCK];
                            for &off in &offsets[t] {
                                let file = file.clone();
                                buf = tokio::task::spawn_blocking(move || {
                                    file.read_exact_at(&mut buf, off).expect("pread");
                                    buf
                                })
                                .await
                                .expect("blocking read");
                            }
                        })
                    })
                    .collect();
                for t in tasks {
                    t.await.expect("reader task");
                }
            })
        })
    });
    group.finish();
    drop(files);
}

/// Reads the file from start to end with `depth` reads of [`SEQ_BUF`] in
/// flight at increasing offsets; returns the bytes read.
async fn read_sequential(file: Arc<runtime::fs::File>, depth: usize) -> u64 {
    let next = std::rc::Rc::new(std::cell::Cell::new(0u64));
    let readers: Vec<_> = (0..depth)
        .map(|_| {
            let (file, next) = (file.clone(), next.clone());
            runtime::spawn(async move {
                let mut buf = Vec::with_capacity(SEQ_BUF);
                let mut total = 0u64;
                loop {
                    let off = next.get();
                    if off >= FILE_LEN {
                        return total;
                    }
                    next.set(off + SEQ_BUF as u64);
                    let (res, b) = file.read_at(buf, off).await;
                    total += res.expect("read_at") as u64;
                    buf = b;
                    buf.clear();
                }
            })
        })
        .collect();
    let mut total = 0;
    for r in readers {
        total += r.await.expect("reader task");
    }
    total
}

fn sequential_128k(c: &mut Criterion) {
    let path = bench_file();
    let mut group = c.benchmark_group("file_read_seq_128k");
    configure(&mut group);
    group.throughput(Throughput::Bytes(FILE_LEN));

    for (name, rt) in support::runtimes() {
        let file = Arc::new(rt.block_on(runtime::fs::File::open(&path)).expect("open"));
        for depth in [1, SEQ_DEPTH] {
            warm(&path);
            let id = format!("{name} ({depth} in flight)");
            group.bench_function(id, |b| {
                b.iter(|| {
                    let n = rt.block_on(read_sequential(file.clone(), depth));
                    assert_eq!(n, FILE_LEN);
                })
            });
        }
    }

    let rt = support::tokio_current_thread();
    warm(&path);
    group.bench_function("tokio::fs::File (read loop)", |b| {
        b.iter(|| {
            rt.block_on(async {
                use tokio::io::AsyncReadExt;
                let mut file = tokio::fs::File::open(&path).await.expect("open");
                let mut buf = vec![0u8; SEQ_BUF];
                let mut total = 0u64;
                loop {
                    let n = file.read(&mut buf).await.expect("read");
                    if n == 0 {
                        break;
                    }
                    total += n as u64;
                }
                assert_eq!(total, FILE_LEN);
            })
        })
    });

    let std_file = Arc::new(fs::File::open(&path).expect("open"));
    warm(&path);
    group.bench_function("tokio spawn_blocking(pread) (1 in flight)", |b| {
        b.iter(|| {
            rt.block_on(async {
                let mut buf = vec![0u8; SEQ_BUF];
                let mut off = 0u64;
                while off < FILE_LEN {
                    let file = std_file.clone();
                    let (n, b) = tokio::task::spawn_blocking(move || {
                        let n = file.read_at(&mut buf, off).expect("pread");
                        (n, buf)
                    })
                    .await
                    .expect("blocking read");
                    buf = b;
                    off += n as u64;
                }
            })
        })
    });
    group.finish();
}

criterion_group!(benches, random_4k, sequential_128k);
criterion_main!(benches);
