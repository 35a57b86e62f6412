//! `Lines`: the lines of a [`BufReader`] as a `Stream`, and by `next_line`.
//!
//! A `Stream` must keep an unfinished read between two polls. The owned-buffer
//! read futures cannot be named, so `poll_next` moves the reader into a boxed
//! future that gives it back with the line; that future lives in `Lines`, not
//! in the caller's `next()` future, so dropping the latter loses nothing.

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;

use super::{BufReader, ReadOwned};

/// A line read in flight, owning the reader until it is done.
type LineFuture<R> = Pin<Box<dyn Future<Output = (BufReader<R>, io::Result<Option<String>>)>>>;

/// The lines of a [`BufReader`], each without its `\n` or `\r\n`: a
/// [`Stream`] of `io::Result<String>`, or one line at a time with
/// [`next_line`](Lines::next_line). Made by [`BufReader::lines`].
///
/// A line that is not UTF-8 yields an `InvalidData` error, and the lines
/// after it follow.
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
    /// The reader, or the boxed read that holds it.
    state: State<R>,
}

/// Where the reader is.
enum State<R> {
    /// Between lines: here.
    Idle(BufReader<R>),
    /// A `poll_next` started a line: inside its future.
    Reading(LineFuture<R>),
    /// Lost: the line future panicked.
    Gone,
}

// `Lines` never pins the reader in place: it moves it into a `Box` first.
impl<R> Unpin for Lines<R> {}

impl<R: ReadOwned> Lines<R> {
    pub(super) fn new(reader: BufReader<R>) -> Self {
        Lines {
            state: State::Idle(reader),
        }
    }

    /// The next line without its `\n` or `\r\n`, or `None` at end of stream.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: see the [type docs](Lines#cancel-safety).
    pub async fn next_line(&mut self) -> io::Result<Option<String>> {
        match &mut self.state {
            State::Idle(reader) => reader.next_line().await,
            State::Reading(fut) => {
                let (reader, res) = fut.await;
                self.state = State::Idle(reader);
                res
            }
            State::Gone => Ok(None),
        }
    }

    /// The reader back, with its buffered bytes; `None` while a line read
    /// started by the `Stream` is unfinished (await
    /// [`next_line`](Self::next_line) first) or if it panicked.
    pub fn into_inner(self) -> Option<BufReader<R>> {
        match self.state {
            State::Idle(reader) => Some(reader),
            State::Reading(_) | State::Gone => None,
        }
    }

    /// The reader, when no `Stream` read is in flight (see [`into_inner`](Self::into_inner)).
    pub fn get_ref(&self) -> Option<&BufReader<R>> {
        match &self.state {
            State::Idle(reader) => Some(reader),
            State::Reading(_) | State::Gone => None,
        }
    }
}

/// Needs `R: 'static`: an unfinished line is kept in a boxed future.
impl<R: ReadOwned + 'static> Stream for Lines<R> {
    type Item = io::Result<String>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            match &mut this.state {
                State::Reading(fut) => {
                    let Poll::Ready((reader, res)) = fut.as_mut().poll(cx) else {
                        return Poll::Pending;
                    };
                    this.state = State::Idle(reader);
                    return Poll::Ready(res.transpose());
                }
                State::Idle(_) => {
                    let State::Idle(mut reader) = std::mem::replace(&mut this.state, State::Gone)
                    else {
                        unreachable!("matched Idle above");
                    };
                    this.state = State::Reading(Box::pin(async move {
                        let res = reader.next_line().await;
                        (reader, res)
                    }));
                }
                State::Gone => return Poll::Ready(None),
            }
        }
    }
}

impl<R: fmt::Debug> fmt::Debug for Lines<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.state {
            State::Idle(reader) => f.debug_tuple("Lines").field(reader).finish(),
            State::Reading(_) => f.write_str("Lines(<reading>)"),
            State::Gone => f.write_str("Lines(<gone>)"),
        }
    }
}
