//! `FileBody`: a response body read from a file in chunks, on runtime's
//! `fs` (small files are read whole before the response starts).
#![forbid(unsafe_code)]

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

use crate::buf::BufResult;
use crate::fs::File;

/// How much one read of a streamed body takes.
const CHUNK: u64 = 256 * 1024;

/// A read of the next chunk.
type ChunkRead = Pin<Box<dyn Future<Output = BufResult<usize, Vec<u8>>> + Send>>;

/// The body of a [`ServeDir`](super::ServeDir) response: nothing, bytes
/// already read, or a range of a file read chunk by chunk as the connection
/// takes it.
pub struct FileBody {
    /// What is left to send.
    kind: Kind,
}

/// See [`FileBody`].
enum Kind {
    /// Bytes in memory (`None` once sent).
    Full(Option<Bytes>),
    /// `pos..end` of `file`, read in chunks.
    Stream {
        /// The open file.
        file: File,
        /// The next byte to read.
        pos: u64,
        /// One past the last byte to send.
        end: u64,
        /// The read in progress.
        read: Option<ChunkRead>,
        /// `O_NONBLOCK` was cleared after an `EAGAIN` (see
        /// `serve_dir::clear_nonblocking`): a second one is an error.
        retried: bool,
    },
}

impl std::fmt::Debug for FileBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileBody")
            .field("remaining", &self.size_hint().exact())
            .finish()
    }
}

impl Default for FileBody {
    /// An empty body (for errors, `HEAD` and 304).
    fn default() -> Self {
        FileBody::full(Bytes::new())
    }
}

impl FileBody {
    /// A body of `bytes`.
    pub(crate) fn full(bytes: Bytes) -> Self {
        FileBody {
            kind: Kind::Full(Some(bytes).filter(|b| !b.is_empty())),
        }
    }

    /// Bytes `pos..end` of `file`, read as the connection takes them.
    pub(crate) fn stream(file: File, pos: u64, end: u64) -> Self {
        FileBody {
            kind: Kind::Stream {
                file,
                pos,
                end,
                read: None,
                retried: false,
            },
        }
    }
}

impl Body for FileBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<io::Result<Frame<Bytes>>>> {
        match &mut self.kind {
            Kind::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            Kind::Stream {
                file,
                pos,
                end,
                read,
                retried,
            } => {
                if *pos >= *end {
                    return Poll::Ready(None);
                }
                let want = (*end - *pos).min(CHUNK) as usize;
                let fut = read
                    .get_or_insert_with(|| Box::pin(file.read_at(Vec::with_capacity(want), *pos)));
                let Poll::Ready((res, buf)) = fut.as_mut().poll(cx) else {
                    return Poll::Pending;
                };
                *read = None;
                match res {
                    // The file shrank since its length was sent.
                    Ok(0) => Poll::Ready(Some(Err(io::ErrorKind::UnexpectedEof.into()))),
                    Ok(n) => {
                        *pos += n as u64;
                        Poll::Ready(Some(Ok(Frame::data(Bytes::from(buf)))))
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock && !*retried => {
                        *retried = true;
                        if let Err(e) = super::serve_dir::clear_nonblocking(file) {
                            return Poll::Ready(Some(Err(e)));
                        }
                        // Read again at once: the next poll starts the read.
                        cx.waker().wake_by_ref();
                        Poll::Pending
                    }
                    Err(e) => Poll::Ready(Some(Err(e))),
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Full(bytes) => bytes.is_none(),
            Kind::Stream { pos, end, .. } => pos >= end,
        }
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(match &self.kind {
            Kind::Full(bytes) => bytes.as_ref().map_or(0, |b| b.len() as u64),
            Kind::Stream { pos, end, .. } => end.saturating_sub(*pos),
        })
    }
}
