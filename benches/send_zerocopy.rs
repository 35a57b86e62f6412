//! `write_all` of owned `Vec` buffers on a loopback TCP connection, with
//! plain sends (`IORING_OP_SEND`, the threshold off) against zero-copy
//! sends (`IORING_OP_SEND_ZC`, the threshold at 0), at buffer sizes from
//! 4 KiB to 1 MiB: what `Builder::send_zerocopy_threshold`'s default rests
//! on. Throughput is in bytes per second.
//!
//! One io_uring worker (this thread, pinned to the first allowed core)
//! sends `TOTAL` bytes per iteration, one `write_all` at a time, reusing
//! its buffer; a plain thread (pinned to the second allowed core, if any)
//! reads them with blocking `read`s of 1 MiB and answers one byte per
//! `TOTAL`, which ends the iteration. A zero-copy `write_all` resolves only
//! once the kernel let go of the buffer (for TCP, once the peer's ACK
//! freed the pages), so its latency is in the measurement, as a user sees it.
//!
//! At the end each runtime prints how many of its sends went zero-copy and
//! how many of those the kernel reported as copied after all (on loopback
//! the receiving side copies them).
//!
//! ```text
//! taskset -c 0,1 cargo bench --bench send_zerocopy -- --noplot
//! ```

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream as StdTcpStream};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use runtime::net::TcpStream;
use runtime::{Builder, DriverKind, Runtime};

/// Bytes sent per iteration (a multiple of every size).
const TOTAL: usize = 32 << 20;
/// The `write_all` buffer sizes compared.
const SIZES: [usize; 5] = [4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20];

/// The CPUs this process may run on (`taskset`), in order.
fn allowed_cpus() -> Vec<usize> {
    // SAFETY: `cpu_set_t` is plain data, for which all-zero is a valid (empty) set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid `cpu_set_t` of the size passed.
    let res = unsafe { libc::sched_getaffinity(0, size_of::<libc::cpu_set_t>(), &mut set) };
    if res != 0 {
        return Vec::new();
    }
    // SAFETY: `set` was filled in by the kernel above.
    (0..libc::CPU_SETSIZE as usize)
        .filter(|&c| unsafe { libc::CPU_ISSET(c, &set) })
        .collect()
}

/// Pins the calling thread to `cpu`.
fn pin_to(cpu: usize) {
    // SAFETY: as in `allowed_cpus`.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid `cpu_set_t` and `cpu` is below `CPU_SETSIZE`
    // (it came from `allowed_cpus`).
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: `set` is a valid `cpu_set_t` of the size passed.
    let res = unsafe { libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set) };
    if res != 0 {
        eprintln!(
            "note: cannot pin to CPU {cpu}: {}",
            std::io::Error::last_os_error()
        );
    }
}

/// The reading end: reads `TOTAL` bytes, answers one byte, until the
/// connection closes.
fn reader(mut stream: StdTcpStream, cpu: Option<usize>) {
    if let Some(cpu) = cpu {
        pin_to(cpu);
    }
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let mut left = TOTAL;
        while left > 0 {
            match stream.read(&mut buf[..left.min(1 << 20)]) {
                Ok(0) | Err(_) => return,
                Ok(n) => left -= n,
            }
        }
        if stream.write_all(&[1]).is_err() {
            return;
        }
    }
}

/// An io_uring runtime whose `write_all`s go zero-copy from `threshold` up.
fn uring(threshold: Option<usize>) -> Option<Runtime> {
    let built = Builder::new()
        .driver(DriverKind::Uring)
        .send_zerocopy_threshold(threshold)
        .build();
    match built {
        Ok(rt) => Some(rt),
        Err(e) => {
            eprintln!("note: skipping: cannot start the io_uring driver: {e}");
            None
        }
    }
}

/// A connection from `rt` to a reader thread on `cpu`.
fn connect(rt: &Runtime, cpu: Option<usize>) -> TcpStream {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("local_addr");
    let stream = rt.block_on(TcpStream::connect(addr)).expect("connect");
    let (peer, _) = listener.accept().expect("accept");
    std::thread::spawn(move || reader(peer, cpu));
    stream
}

/// Sends `TOTAL` bytes `iters` times in `write_all`s of `size`, each time
/// waiting for the reader's byte; returns the time taken.
fn send(rt: &Runtime, stream: &TcpStream, size: usize, iters: u64) -> Duration {
    rt.block_on(async {
        let mut buf = vec![7u8; size];
        let mut ack = vec![0u8; 1];
        let start = Instant::now();
        for _ in 0..iters {
            for _ in 0..TOTAL / size {
                let (res, b) = stream.write_all(buf).await;
                res.expect("write_all");
                buf = b;
            }
            let (res, a) = stream.read(ack).await;
            assert_eq!(res.expect("read the reader's byte"), 1);
            ack = a;
        }
        start.elapsed()
    })
}

fn send_zerocopy(c: &mut Criterion) {
    let cpus = allowed_cpus();
    if let Some(&cpu) = cpus.first() {
        pin_to(cpu);
    }
    let reader_cpu = cpus.get(1).copied();
    let runtimes: Vec<(&str, Runtime)> = [("send", None), ("send_zc", Some(0))]
        .into_iter()
        .filter_map(|(name, threshold)| uring(threshold).map(|rt| (name, rt)))
        .collect();
    let streams: Vec<TcpStream> = runtimes
        .iter()
        .map(|(_, rt)| connect(rt, reader_cpu))
        .collect();
    for size in SIZES {
        let mut group = c.benchmark_group(format!("write_all_{}k", size >> 10));
        group
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3))
            .sample_size(10)
            .throughput(Throughput::Bytes(TOTAL as u64));
        for ((name, rt), stream) in runtimes.iter().zip(&streams) {
            group.bench_function(*name, |b| b.iter_custom(|n| send(rt, stream, size, n)));
        }
        group.finish();
    }
    for ((name, rt), stream) in runtimes.iter().zip(streams) {
        let m = rt.block_on(async {
            drop(stream);
            runtime::metrics().remove(0)
        });
        eprintln!(
            "{name}: {} zero-copy sends, {} of them copied by the kernel",
            m.sends_zerocopy, m.sends_zerocopy_copied
        );
    }
}

criterion_group!(benches, send_zerocopy);
criterion_main!(benches);
