//! The loop: `depth` fixed-buffer reads of a registered file always in
//! flight, refilled from the completions of each `io_uring_enter` (made
//! through the registered ring, `enter.rs`).

use std::io;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use io_uring::{opcode, types, IoUring};

use crate::bufs::Bufs;
use crate::enter::Enter;
use crate::Config;

/// Sets up a ring with the best flags the kernel takes (as the runtime's
/// `detect.rs` does); returns it and a description of the flags.
fn ring(entries: u32) -> io::Result<(IoUring, &'static str)> {
    type Flags = fn(&mut io_uring::Builder);
    let attempts: [(&str, Flags); 3] = [
        ("SINGLE_ISSUER | DEFER_TASKRUN", |b| {
            b.setup_single_issuer().setup_defer_taskrun();
        }),
        ("COOP_TASKRUN", |b| {
            b.setup_coop_taskrun();
        }),
        ("no extra flags", |_| {}),
    ];
    let mut last = io::Error::from_raw_os_error(libc::EINVAL);
    for (desc, apply) in attempts {
        let mut builder = IoUring::builder();
        builder.setup_clamp().setup_cqsize(2 * entries);
        apply(&mut builder);
        match builder.build(entries) {
            Ok(uring) => return Ok((uring, desc)),
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => last = e,
            Err(e) => return Err(e),
        }
    }
    Err(last)
}

/// Per-slot state: where its next random offset comes from, when its read
/// was submitted.
struct Slot {
    /// xorshift state, seeded as `file_load` seeds task `t`.
    x: u64,
    /// Submission time of the read in flight.
    t0: Instant,
}

/// Reads for `cfg.duration`; returns reads done, the time taken, each
/// read's latency in ns, and the ring's flags.
pub(crate) fn run(
    cfg: &Config,
    file: &std::fs::File,
) -> io::Result<(u64, Duration, Vec<u32>, &'static str)> {
    let len = file.metadata()?.len();
    let blocks = len / cfg.bs as u64;
    if blocks == 0 {
        return Err(io::Error::other("the file is smaller than one block"));
    }
    let entries = (cfg.depth as u32).next_power_of_two().max(8);
    let (mut ring, flags) = ring(entries)?;
    let bufs = Bufs::new(cfg.depth, cfg.bs)?;
    ring.submitter().register_files(&[file.as_raw_fd()])?;
    // SAFETY: the iovecs point into `bufs`, which outlives the ring (dropped
    // after it: `ring` is declared later, so it is dropped first).
    unsafe { ring.submitter().register_buffers(&bufs.iovecs())? };
    let enter = Enter::new(&ring);
    let ring = &mut ring;

    let mut slots: Vec<Slot> = (0..cfg.depth)
        .map(|t| Slot {
            x: 0x9E37_79B9_7F4A_7C15u64 ^ (t as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03),
            t0: Instant::now(),
        })
        .collect();
    let mut next_block = 0u64;
    let mut lat: Vec<u32> = Vec::with_capacity(1 << 20);
    let bs = cfg.bs as u32;

    // Queues slot `i`'s next read.
    let mut queue = |ring: &mut IoUring, slots: &mut [Slot], i: usize| {
        let s = &mut slots[i];
        let block = if cfg.random {
            s.x ^= s.x << 13;
            s.x ^= s.x >> 7;
            s.x ^= s.x << 17;
            s.x % blocks
        } else {
            let b = next_block;
            next_block = (b + 1) % blocks;
            b
        };
        let entry = opcode::ReadFixed::new(types::Fixed(0), bufs.ptr(i), bs, i as u16)
            .offset(block * cfg.bs as u64)
            .build()
            .user_data(i as u64);
        s.t0 = Instant::now();
        // The submission queue has room for every slot (entries >= depth),
        // and a slot has one read in flight at a time.
        // SAFETY: the entry points into registered buffer `i`, which lives
        // until the ring is gone, and slot `i` has no other read in flight.
        unsafe { ring.submission().push(&entry) }.expect("room for every slot");
    };

    let start = Instant::now();
    let deadline = start + cfg.duration;
    for i in 0..cfg.depth {
        queue(ring, &mut slots, i);
    }
    let mut in_flight = cfg.depth;
    let mut done: Vec<(usize, i32)> = Vec::with_capacity(cfg.depth);
    while in_flight > 0 {
        match enter.submit_and_wait(ring, 1) {
            Err(e) if !matches!(e.raw_os_error(), Some(libc::EINTR | libc::EBUSY)) => {
                return Err(e)
            }
            _ => {}
        }
        done.extend(
            ring.completion()
                .map(|cqe| (cqe.user_data() as usize, cqe.result())),
        );
        let now = Instant::now();
        let more = now < deadline;
        for (i, res) in done.drain(..) {
            if res < 0 {
                return Err(io::Error::from_raw_os_error(-res));
            }
            if res as u32 != bs {
                return Err(io::Error::other("short read"));
            }
            let ns = now.duration_since(slots[i].t0).as_nanos();
            lat.push(ns.min(u32::MAX as u128) as u32);
            if more {
                queue(ring, &mut slots, i);
            } else {
                in_flight -= 1;
            }
        }
    }
    Ok((lat.len() as u64, start.elapsed(), lat, flags))
}
