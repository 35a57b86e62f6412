//! Send deadlines: a response write that makes no progress for the idle
//! timeout, or (optionally) takes longer than a total cap, is abandoned.
//!
//! Progress is what the peer acknowledged (`tcpi_bytes_acked` of
//! `TCP_INFO`), so one watch covers a whole `send_file` of any size without
//! splitting it into chunks: a client that stops reading fills its receive
//! window and our send buffer, acknowledgements stop, and the watch fires at
//! most `idle + idle / 4` after the last one. A send that finishes on its
//! first poll never arms a timer, and one that finishes within a quarter of
//! the idle timeout never asks the kernel for `TCP_INFO`.

use std::future::{poll_fn, Future};
use std::os::fd::RawFd;
use std::pin::{pin, Pin};
use std::task::Poll;
use std::time::{Duration, Instant};

use runtime::time::{sleep_until, Sleep};

/// Runs `send`, a write to the socket `fd`; `None` when it was abandoned for
/// making no progress for `idle`, or for still running at `cap`.
pub(crate) async fn watched<F: Future>(
    fd: RawFd,
    send: F,
    idle: Duration,
    cap: Option<Instant>,
) -> Option<F::Output> {
    let mut send = pin!(send);
    // Armed at the first `Pending`: the timer, the bytes acknowledged when
    // last looked (`None` before the first look: no syscall for sends that
    // end before it), and when they last grew (or the watch started).
    let mut watch: Option<(Pin<Box<Sleep>>, Option<u64>, Instant)> = None;
    poll_fn(|cx| {
        if let Poll::Ready(out) = send.as_mut().poll(cx) {
            return Poll::Ready(Some(out));
        }
        loop {
            let now = Instant::now();
            let Some((timer, acked, last)) = watch.as_mut() else {
                let timer = Box::pin(sleep_until(next_check(now, now, idle, cap)));
                watch = Some((timer, None, now));
                continue;
            };
            if timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            let a = bytes_acked(fd);
            if acked.is_some_and(|old| old != a) {
                *last = now;
            }
            *acked = Some(a);
            if now.duration_since(*last) >= idle || cap.is_some_and(|c| now >= c) {
                return Poll::Ready(None);
            }
            timer.as_mut().reset(next_check(now, *last, idle, cap));
        }
    })
    .await
}

/// The next look at progress: when the idle time since the last progress runs
/// out, but at least every quarter of it (progress is only seen when looked
/// at), and no later than the cap.
fn next_check(now: Instant, last: Instant, idle: Duration, cap: Option<Instant>) -> Instant {
    let at = (last + idle)
        .min(now + idle / 4)
        .max(now + Duration::from_millis(1));
    cap.map_or(at, |c| at.min(c))
}

/// Bytes of this connection the peer has acknowledged; 0 if `TCP_INFO` fails
/// (then only the cap and a stalled counter of 0 decide).
fn bytes_acked(fd: RawFd) -> u64 {
    // SAFETY: tcp_info is plain data; all zeroes is a valid value.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: `info` and `len` are live and `len` is `info`'s size; the caller keeps `fd` open.
    let res = unsafe {
        libc::getsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        )
    };
    if res < 0 {
        return 0;
    }
    info.tcpi_bytes_acked
}
