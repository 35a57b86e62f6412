//! Reads that fill many buffers: [`File::read_many`] (many ranges, a bounded
//! number in flight, results as they complete) and [`File::readv_exact_at`]
//! (one range scattered over several buffers, each filled completely).
//!
//! `ReadMany` keeps up to `depth` [`ReadAt`] futures, the very futures of
//! `read_at`, so registered files and [`FixedBuf`](crate::buf::FixedBuf)s
//! keep their `READ_FIXED` path, in a [`Running`] set (`running.rs`): a poll
//! of the stream polls only the reads whose completion arrived, never all
//! `depth` of them.

use std::collections::VecDeque;
use std::fmt;
use std::future::{poll_fn, Future};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::stream::{FusedStream, Stream};

use super::file::{check_pos, offset};
use super::positional::ReadAt;
use super::running::Running;
use super::File;
use crate::buf::{BufResult, IoBuf, IoBufMut, Slice};
use crate::op::{FixedFile, Op};
use crate::sys::SharedFd;

impl File {
    /// Reads many `(offset, buffer)` ranges of the file, at most `depth` at
    /// a time, and yields each result as it completes, tagged with the index
    /// of its request (0 for the first item of `reqs`).
    ///
    /// Each read is a [`read_at`](File::read_at): it fills up to
    /// `bytes_total()` bytes and reports a short read (`Ok(0)` past the end
    /// of the file) as it is, with its buffer. Results come in completion
    /// order, not request order; the index says which request each answers.
    /// Requests are taken from `reqs` only as reads are started, so a lazy
    /// iterator allocates at most `depth` buffers at once. A `depth` of 0
    /// counts as 1.
    ///
    /// The returned [`ReadMany`] is a [`Stream`]; its
    /// [`next`](ReadMany::next) method serves without a stream crate. It
    /// holds its own reference to the descriptor, as `read_at` does.
    ///
    /// ```
    /// # runtime::block_on(async {
    /// # let path = std::env::temp_dir().join(format!("rt-doc-many-{}", std::process::id()));
    /// runtime::fs::write(&path, b"0123456789abcdef".to_vec()).await?;
    /// let file = runtime::fs::File::open(&path).await?;
    /// let ranges = [(10, 3), (0, 4), (14, 8)]; // (offset, length)
    /// let reqs = ranges.iter().map(|&(pos, len)| (pos, Vec::with_capacity(len)));
    /// let mut reads = file.read_many(reqs, 2);
    /// let mut got = vec![Vec::new(); ranges.len()];
    /// while let Some((i, (res, buf))) = reads.next().await {
    ///     res?; // a short read is not an error: the third stops at the end
    ///     got[i] = buf;
    /// }
    /// assert_eq!(got, [&b"abc"[..], b"0123", b"ef"]);
    /// # runtime::fs::remove_file(&path).await?;
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Errors
    ///
    /// Per read, as [`read_at`](File::read_at): the kernel's error, or
    /// `InvalidInput` for an offset past `i64::MAX`; one read failing does
    /// not stop the others.
    ///
    /// # Cost
    ///
    /// A poll of the stream starts reads while fewer than `depth` are
    /// running or waiting to be yielded, and polls only the reads whose
    /// wakers fired since the last poll: O(reads completed + reads started),
    /// whatever `depth` is. Memory: one slot and one waker per read running
    /// at once, allocated as first needed, so a `depth` beyond the number of
    /// requests costs nothing.
    ///
    /// # Drivers
    ///
    /// io_uring: the reads one poll starts go to the kernel in one
    /// submission, at the worker's next turn. epoll: a read the page cache
    /// holds completes inline; the others run on the blocking pool, up to
    /// `depth` at once.
    ///
    /// # Cancel safety
    ///
    /// [`ReadMany::next`] is cancel safe: a result that completed waits in
    /// the stream for the next call. Dropping the `ReadMany` drops the reads
    /// in flight (the driver keeps each buffer until the kernel is done with
    /// it, then frees it; a `FixedBuf` goes back to its pool), the results
    /// not yet yielded with their buffers, and the requests not yet started,
    /// which never reach the kernel. Reads change nothing, so they can be
    /// issued again.
    pub fn read_many<B, I>(&self, reqs: I, depth: usize) -> ReadMany<B, I::IntoIter>
    where
        B: IoBufMut,
        I: IntoIterator<Item = (u64, B)>,
    {
        ReadMany {
            fd: self.fd.clone(),
            fixed: self.fixed.clone(),
            reqs: Some(reqs.into_iter()),
            next_index: 0,
            depth: depth.max(1),
            running: Running::new(),
            done: VecDeque::new(),
        }
    }

    /// Fills every buffer of `bufs` completely (`bytes_total()` bytes each:
    /// a `Vec`'s capacity), in order, from offset `pos`: a
    /// [`readv_at`](File::readv_at) repeated after a short read from the
    /// byte and buffer where it stopped.
    ///
    /// ```
    /// # runtime::block_on(async {
    /// # let path = std::env::temp_dir().join(format!("rt-doc-readv-exact-{}", std::process::id()));
    /// runtime::fs::write(&path, b"headerbody".to_vec()).await?;
    /// let file = runtime::fs::File::open(&path).await?;
    /// let bufs = vec![Vec::with_capacity(6), Vec::with_capacity(4)];
    /// let (res, bufs) = file.readv_exact_at(bufs, 0).await;
    /// res?;
    /// assert_eq!(bufs, [&b"header"[..], b"body"]);
    ///
    /// let (res, bufs) = file.readv_exact_at(vec![vec![0u8; 4], vec![0u8; 4]], 4).await;
    /// assert_eq!(res.unwrap_err().kind(), std::io::ErrorKind::UnexpectedEof);
    /// assert_eq!(bufs, [&b"erbo"[..], b"dy\0\0"]); // what was read, returned
    /// # runtime::fs::remove_file(&path).await?;
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Errors
    ///
    /// `UnexpectedEof` if the file ends first (the buffers then hold what was
    /// read); otherwise the kernel's error (`EINVAL` beyond 1024 buffers), or
    /// `InvalidInput` if an offset exceeds `i64::MAX`. Interrupted reads are
    /// retried. The buffers come back in every case.
    ///
    /// # Drivers
    ///
    /// `IORING_OP_READV` on io_uring, `preadv(2)` on epoll (as `readv_at`):
    /// registered files and buffers are read as plain ones.
    ///
    /// # Cancel safety
    ///
    /// Dropped part-way, the bytes read so far are lost with the buffers (as with
    /// [`read_exact_at`](File::read_exact_at)); the file is unchanged, so the call can be
    /// made again.
    pub fn readv_exact_at<B: IoBufMut>(
        &self,
        bufs: Vec<B>,
        pos: u64,
    ) -> impl Future<Output = BufResult<(), Vec<B>>> + 'static {
        let fd = self.fd.clone();
        async move {
            let totals: Vec<usize> = bufs.iter().map(IoBuf::bytes_total).collect();
            let mut bufs = bufs;
            let mut at = advance(&totals, (0, 0), 0);
            let mut done = 0;
            while at.0 < bufs.len() {
                let pos = match offset(pos, done) {
                    Ok(pos) => pos,
                    Err(e) => return (Err(e), bufs),
                };
                // The buffer the last read stopped in, from where it stopped,
                // then the untouched ones; the filled ones stay behind.
                let (first, filled) = at;
                let rest: Vec<Slice<B>> = bufs
                    .drain(first..)
                    .enumerate()
                    .map(|(i, buf)| buf.slice(if i == 0 { filled } else { 0 }..))
                    .collect();
                let (res, rest) = Op::readv_at(&fd, rest, pos).await;
                bufs.extend(rest.into_iter().map(Slice::into_inner));
                match res {
                    Ok(0) => {
                        let eof = io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "end of file before the buffers were filled",
                        );
                        return (Err(eof), bufs);
                    }
                    Ok(n) => {
                        done += n;
                        at = advance(&totals, at, n);
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return (Err(e), bufs),
                }
            }
            (Ok(()), bufs)
        }
    }
}

/// Where filling buffers of sizes `totals` stands after `n` more bytes from
/// `at`: `(buffer, bytes of it filled)`, past any full or empty buffer;
/// `totals.len()` once all are full.
fn advance(totals: &[usize], at: (usize, usize), mut n: usize) -> (usize, usize) {
    let (mut i, mut filled) = at;
    loop {
        while i < totals.len() && filled == totals[i] {
            i += 1;
            filled = 0;
        }
        if n == 0 || i == totals.len() {
            return (i, filled);
        }
        let step = n.min(totals[i] - filled);
        filled += step;
        n -= step;
    }
}

/// The reads of [`File::read_many`], as a [`Stream`] of
/// `(request index, (result, buffer))` in completion order.
///
/// See [`File::read_many`] for the behaviour, cost and cancel safety.
#[must_use = "streams do nothing unless polled"]
pub struct ReadMany<B: IoBufMut, I> {
    /// The file's descriptor, shared with the reads in flight.
    fd: SharedFd,
    /// Its registered slot, so each read may name it (as `read_at` does).
    fixed: Option<FixedFile>,
    /// Requests not yet started; `None` once the iterator said it was done.
    reqs: Option<I>,
    /// The index the next request taken from `reqs` gets.
    next_index: usize,
    /// At most this many reads run or wait to be yielded at once.
    depth: usize,
    /// The reads in flight.
    running: Running<ReadAt<B>>,
    /// Completed reads not yet yielded; they count against `depth`, which
    /// bounds the buffers held however slowly the caller consumes.
    done: VecDeque<(usize, BufResult<usize, B>)>,
}

// Nothing is pinned through a `ReadMany`: the iterator is only called by
// `&mut`, and every read future is `Unpin`.
impl<B: IoBufMut, I> Unpin for ReadMany<B, I> {}

impl<B: IoBufMut, I: Iterator<Item = (u64, B)>> ReadMany<B, I> {
    /// The next completed read, or `None` once every request was answered.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropped before it returns, it loses nothing (a read that
    /// completes meanwhile waits in the stream).
    pub async fn next(&mut self) -> Option<(usize, BufResult<usize, B>)> {
        poll_fn(|cx| self.poll_next_read(cx)).await
    }

    /// Polls for the next completed read; `Ready(None)` once every request
    /// was answered.
    pub fn poll_next_read(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<(usize, BufResult<usize, B>)>> {
        // With results waiting, one is returned without a look at the
        // queue: the caller polls again, and the queue keeps.
        if self.done.is_empty() {
            self.running.poll_woken(cx.waker(), &mut self.done);
            if self.done.is_empty() {
                self.start();
            }
        }
        match self.done.pop_front() {
            Some(item) => {
                // The freed place goes to the next request now, not at the
                // next poll, so the kernel works while the caller does.
                self.start();
                Poll::Ready(Some(item))
            }
            None if self.running.is_empty() && self.reqs.is_none() => Poll::Ready(None),
            None => Poll::Pending,
        }
    }

    /// Starts requests while fewer than `depth` reads run or wait.
    fn start(&mut self) {
        while self.running.len() + self.done.len() < self.depth {
            let Some((pos, buf)) = self.reqs.as_mut().and_then(Iterator::next) else {
                self.reqs = None;
                return;
            };
            let index = self.next_index;
            self.next_index += 1;
            let read = ReadAt::new(&self.fd, self.fixed.as_ref(), buf, check_pos(pos));
            if let Some(res) = self.running.push(index, read) {
                self.done.push_back((index, res));
            }
        }
    }
}

impl<B: IoBufMut, I: Iterator<Item = (u64, B)>> Stream for ReadMany<B, I> {
    type Item = (usize, BufResult<usize, B>);

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_next_read(cx)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let held = self.running.len() + self.done.len();
        let (low, high) = self.reqs.as_ref().map_or((0, Some(0)), Iterator::size_hint);
        (
            held.saturating_add(low),
            high.and_then(|h| h.checked_add(held)),
        )
    }
}

impl<B: IoBufMut, I: Iterator<Item = (u64, B)>> FusedStream for ReadMany<B, I> {
    fn is_terminated(&self) -> bool {
        self.reqs.is_none() && self.running.is_empty() && self.done.is_empty()
    }
}

impl<B: IoBufMut, I> fmt::Debug for ReadMany<B, I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadMany")
            .field("fd", &self.fd.raw())
            .field("depth", &self.depth)
            .field("in_flight", &self.running.len())
            .field("completed", &self.done.len())
            .field("started", &self.next_index)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advance_moves_across_buffers_and_skips_empty_ones() {
        let totals = [3, 0, 4, 2];
        assert_eq!(advance(&totals, (0, 0), 0), (0, 0));
        assert_eq!(advance(&totals, (0, 0), 2), (0, 2));
        // Filling the first skips the empty second.
        assert_eq!(advance(&totals, (0, 2), 1), (2, 0));
        assert_eq!(advance(&totals, (0, 2), 3), (2, 2));
        assert_eq!(advance(&totals, (2, 2), 2), (3, 0));
        assert_eq!(advance(&totals, (0, 0), 9), (4, 0));
        assert_eq!(advance(&[0, 0], (0, 0), 0), (2, 0));
        assert_eq!(advance(&[], (0, 0), 0), (0, 0));
    }
}
