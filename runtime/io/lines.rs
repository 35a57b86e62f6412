//! `Lines`: the lines of a [`BufReader`] as a `Stream`, and by `next_line`.
//!
//! A `Stream` must keep an unfinished read between two polls. The
//! owned-buffer read futures cannot be named, so the stream reads each line
//! in a future that owns the reader and gives it back with the line. That
//! future's type is the same for every line: `Lines` allocates one place
//! for it, at the first line the stream reads, and puts each line's future
//! where the last one was (a [`Slot`]), so no line allocates. The read lives
//! in `Lines`, not in the caller's `next()` future, so dropping the latter
//! loses nothing.

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use futures_core::Stream;
use pin_project_lite::pin_project;

use super::{BufReader, ReadOwned};

/// What a line read gives back: the reader, and the line.
type LineRead<R> = (BufReader<R>, io::Result<Option<String>>);

/// Reads one line, owning the reader meanwhile.
async fn read_line_owned<R: ReadOwned>(mut reader: BufReader<R>) -> LineRead<R> {
    let res = reader.next_line().await;
    (reader, res)
}

pin_project! {
    /// The line reads of one `Lines`, each in the place of the last: `make`
    /// makes a line's read (`read_line_owned`, whose type is `F`), `read` is
    /// the one in flight, if any. (pin-project-lite takes no field docs.)
    struct Slot<R, F> {
        make: fn(BufReader<R>) -> F,
        #[pin]
        read: Option<F>,
    }
}

/// A [`Slot`] without its future's type, which cannot be named.
trait LineSlot<R> {
    /// Starts reading the next line of `reader`.
    fn start(self: Pin<&mut Self>, reader: BufReader<R>);

    /// Polls the read `start` began; the reader comes back with the line.
    fn poll_line(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<LineRead<R>>;
}

impl<R, F: Future<Output = LineRead<R>>> LineSlot<R> for Slot<R, F> {
    fn start(self: Pin<&mut Self>, reader: BufReader<R>) {
        let mut this = self.project();
        let read = (this.make)(reader);
        this.read.set(Some(read));
    }

    fn poll_line(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<LineRead<R>> {
        let mut this = self.project();
        let Some(read) = this.read.as_mut().as_pin_mut() else {
            unreachable!("a line read polled before it was started");
        };
        let out = ready!(read.poll(cx));
        this.read.set(None);
        Poll::Ready(out)
    }
}

/// The lines of a [`BufReader`], each without its `\n` or `\r\n`: a
/// [`Stream`] of `io::Result<String>`, or one line at a time with
/// [`next_line`](Lines::next_line). Made by [`BufReader::lines`].
///
/// A line that is not UTF-8 yields an `InvalidData` error, and the lines
/// after it follow.
///
/// `next_line` works over any reader, a borrowed one too
/// (`BufReader::new(&stream).lines()`, as with tokio's `Lines`). The
/// `Stream` needs a reader that owns its stream (`R: 'static`): it keeps an
/// unfinished line in a place of its own, allocated once by the first line
/// it reads and reused for every line after it.
///
/// # Cancel safety
///
/// Cancel safe both ways. A `next_line()` future dropped before it completes
/// leaves its partial line in the reader; a `next()` on the stream dropped
/// before it completes leaves its read in flight inside `Lines`, and the next
/// `next()` or `next_line()` finishes it. Either way every line arrives, in
/// order.
///
/// ```no_run
/// use runtime::io::BufReader;
/// use std::time::Duration;
///
/// # async fn f(stream: runtime::net::TcpStream) -> std::io::Result<()> {
/// let mut lines = BufReader::new(stream).lines();
/// loop {
///     // A timeout that fires loses no part of the line being read.
///     match runtime::time::timeout(Duration::from_secs(5), lines.next_line()).await {
///         Ok(Ok(Some(line))) => println!("{line}"),
///         Ok(Ok(None)) => break,
///         Ok(Err(e)) => return Err(e),
///         Err(_) => println!("(quiet for five seconds)"),
///     }
/// }
/// # Ok(())
/// # }
/// ```
pub struct Lines<R> {
    /// The reader between lines; `None` while the stream's read of a line
    /// holds it (in `slot`).
    reader: Option<BufReader<R>>,
    /// Where the stream reads its lines: made by its first line, reused.
    slot: Option<Pin<Box<dyn LineSlot<R>>>>,
}

// `Lines` never pins the reader in place: it moves it into the slot's
// future, which is pinned in its own allocation.
impl<R> Unpin for Lines<R> {}

impl<R: ReadOwned> Lines<R> {
    pub(super) fn new(reader: BufReader<R>) -> Self {
        Lines {
            reader: Some(reader),
            slot: None,
        }
    }

    /// The next line without its `\n` or `\r\n`, or `None` at end of stream.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: see the [type docs](Lines#cancel-safety).
    pub async fn next_line(&mut self) -> io::Result<Option<String>> {
        match self.reader.as_mut() {
            Some(reader) => reader.next_line().await,
            None => std::future::poll_fn(|cx| self.poll_started(cx)).await,
        }
    }

    /// The reader back, with its buffered bytes; `None` while a line read
    /// started by the `Stream` is unfinished (await
    /// [`next_line`](Self::next_line) first).
    pub fn into_inner(self) -> Option<BufReader<R>> {
        self.reader
    }

    /// The reader, when no `Stream` read is in flight (see [`into_inner`](Self::into_inner)).
    pub fn get_ref(&self) -> Option<&BufReader<R>> {
        self.reader.as_ref()
    }

    /// Polls the line read the stream started, and takes the reader back
    /// once the line is read.
    fn poll_started(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Option<String>>> {
        let Some(slot) = self.slot.as_mut() else {
            unreachable!("the reader is away without a line read holding it");
        };
        let (reader, res) = ready!(slot.as_mut().poll_line(cx));
        self.reader = Some(reader);
        Poll::Ready(res)
    }
}

/// Needs `R: 'static`: an unfinished line is kept in a boxed place.
impl<R: ReadOwned + 'static> Stream for Lines<R> {
    type Item = io::Result<String>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if let Some(reader) = this.reader.take() {
            let slot = this.slot.get_or_insert_with(|| {
                Box::pin(Slot {
                    make: read_line_owned::<R>,
                    read: None,
                })
            });
            slot.as_mut().start(reader);
        }
        this.poll_started(cx).map(Result::transpose)
    }
}

impl<R: fmt::Debug> fmt::Debug for Lines<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.reader {
            Some(reader) => f.debug_tuple("Lines").field(reader).finish(),
            None => f.write_str("Lines(<reading>)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::task::Waker;

    use super::*;
    use crate::buf::{fill_from_slice, BufResult, IoBufMut};

    /// A reader whose reads complete at once, one chunk (or what fits of it) each.
    struct Chunks(VecDeque<&'static [u8]>);

    impl ReadOwned for Chunks {
        async fn read<B: IoBufMut>(&mut self, mut buf: B) -> BufResult<usize, B> {
            let Some(chunk) = self.0.pop_front() else {
                return (Ok(0), buf);
            };
            let n = fill_from_slice(&mut buf, chunk);
            if n < chunk.len() {
                self.0.push_front(&chunk[n..]);
            }
            (Ok(n), buf)
        }
    }

    /// The stream's next item, which these reads give in one poll.
    fn next(lines: &mut Lines<Chunks>) -> Option<io::Result<String>> {
        let mut cx = Context::from_waker(Waker::noop());
        match Pin::new(lines).poll_next(&mut cx) {
            Poll::Ready(item) => item,
            Poll::Pending => panic!("a ready reader left the line pending"),
        }
    }

    /// Where the stream keeps its line reads.
    fn slot_addr(lines: &Lines<Chunks>) -> Option<*const ()> {
        let slot = lines.slot.as_ref()?;
        Some(&**slot as *const dyn LineSlot<Chunks> as *const ())
    }

    #[test]
    fn every_line_reuses_the_one_place() {
        let chunks = Chunks(VecDeque::from([&b"one\ntw"[..], b"o\r\nthree"]));
        let mut lines = BufReader::with_capacity(4, chunks).lines();
        assert_eq!(slot_addr(&lines), None, "nothing allocated before a line");
        assert_eq!(
            next(&mut lines).transpose().unwrap().as_deref(),
            Some("one")
        );
        let place = slot_addr(&lines);
        assert!(place.is_some());
        assert_eq!(
            next(&mut lines).transpose().unwrap().as_deref(),
            Some("two")
        );
        assert_eq!(
            next(&mut lines).transpose().unwrap().as_deref(),
            Some("three")
        );
        assert!(next(&mut lines).is_none());
        assert_eq!(slot_addr(&lines), place, "one place for every line");
        assert!(lines.into_inner().is_some());
    }
}
