//! The owned-buffer I/O methods of the stream types and their split halves,
//! written once. `forward!` holds each method's signature and its forward
//! to the `StreamCore`, under whatever docs it is given; `stream_methods!`
//! gives it the docs `TcpStream` and `UnixStream` share (each method's
//! summary and `# Cancel safety`), with the lines only one of them has
//! (TCP's examples, its zero-copy and `sendfile(2)` notes) supplied by its
//! invocation. The halves' shorter docs are in `owned_halves!` (`split.rs`).

/// Expands, inside the `impl` block of a stream type whose `core` field is a
/// `StreamCore`, to `read`, `readable`, `recv_buf`, `peek`, `write`,
/// `write_queued`, `flush_queued`, `write_all`, `send_file`, `readv`,
/// `writev` and `shutdown`, each documented and forwarding to the core.
///
/// Each `name: [..]` holds the doc lines only this type has, placed in that
/// method's shared doc:
/// - `read`: the paragraphs between the summary and `# Cancel safety`;
/// - `readable`: what follows `# Cancel safety` (an example);
/// - `write`: the end of the summary paragraph;
/// - `write_all`: the sections between the summary and `# Cancel safety`;
/// - `write_all_cancel`: the end of the `# Cancel safety` paragraph;
/// - `send_file`: everything before `# Cancel safety`;
/// - `readv`: the summary.
macro_rules! stream_methods {
    (
        read: [$(#[$read:meta])*],
        readable: [$(#[$readable:meta])*],
        write: [$(#[$write:meta])*],
        write_all: [$(#[$write_all:meta])*],
        write_all_cancel: [$(#[$write_all_cancel:meta])*],
        send_file: [$(#[$send_file:meta])*],
        readv: [$(#[$readv:meta])*] $(,)?
    ) => {
        $crate::net::stream_methods::forward! {
            /// Reads into `buf`, from its start up to its capacity; resolves to the
            /// number of bytes read (`0` at end of stream) and the buffer.
            ///
            $(#[$read])*
            ///
            /// # Cancel safety
            ///
            /// Cancel safe: bytes are taken only by the poll that returns them, so a
            /// read dropped at any point (in `select!`, by a timeout) loses nothing.
            fn read
        }

        $crate::net::stream_methods::forward! {
            /// Waits until the socket has bytes to read (or end of stream, or an
            /// error to report), without taking any. A server holding many idle
            /// connections awaits this before taking a buffer for the read, so an
            /// idle connection holds no buffer. It can return early, rarely: after a
            /// read that filled its buffer exactly, the next read may still wait.
            ///
            /// # Cancel safety
            ///
            /// Cancel safe: it takes nothing from the socket.
            ///
            $(#[$readable])*
            fn readable
        }

        $crate::net::stream_methods::forward! {
            /// Receives the next bytes without a copy: on io_uring the worker's
            /// provided buffer the kernel received them into, lent until the
            /// [`RecvBuf`](crate::buf::RecvBuf) is dropped; elsewhere a buffer of
            /// their own. Empty at end of stream. An idle connection waiting here
            /// holds no buffer, and the bytes can be sent on as they are (a `RecvBuf`
            /// is an [`IoBuf`](crate::buf::IoBuf)). `.timeout(d)` bounds the wait.
            ///
            /// ```no_run
            /// # async fn f(stream: runtime::net::TcpStream) -> std::io::Result<()> {
            /// let buf = stream.recv_buf().await?;
            /// println!("{} bytes", buf.len());
            /// # Ok(()) }
            /// ```
            ///
            /// # Cancel safety
            ///
            /// Cancel safe: bytes are taken only by the poll that returns them; a
            /// dropped call leaves them queued on the socket for the next read.
            fn recv_buf
        }

        $crate::net::stream_methods::forward! {
            /// Like [`read`](Self::read), but leaves the bytes in the socket for
            /// the next read (`MSG_PEEK`).
            ///
            /// # Cancel safety
            ///
            /// Cancel safe: it takes nothing from the socket.
            fn peek
        }

        $crate::net::stream_methods::forward! {
            /// Writes the initialised bytes of `buf`, maybe only some of them;
            /// resolves to the number written and the buffer.
            $(#[$write])*
            ///
            /// # Cancel safety
            ///
            /// Not cancel safe: dropped before it resolves, the write may or may not
            /// have sent some of `buf`, and the count is lost.
            fn write
        }

        $crate::net::stream_methods::forward! {
            /// Queues `buf` to be sent after everything queued or written before
            /// it, without waiting for the send: the future resolves once the
            /// buffer is queued, which is at once unless 64 KiB already wait (then
            /// it waits for room). The kernel sends the bytes in order; the buffer is
            /// dropped once sent. Use [`flush_queued`](Self::flush_queued) to wait
            /// until everything queued went out; [`shutdown`](Self::shutdown) and
            /// later direct writes (`write`, `write_all`) wait for that themselves.
            ///
            /// On io_uring the send is the kernel's, and its task is not woken when
            /// it completes, so a server that replies with `write_queued` runs each
            /// request in one wake-up. On epoll the bytes are written in the call,
            /// waiting for room as `write_all` does.
            ///
            /// ```no_run
            /// # async fn f(stream: runtime::net::TcpStream) -> std::io::Result<()> {
            /// loop {
            ///     let buf = stream.recv_buf().await?;
            ///     if buf.is_empty() {
            ///         break;
            ///     }
            ///     stream.write_queued(buf).await?; // echoed; the next read starts at once
            /// }
            /// stream.flush_queued().await
            /// # }
            /// ```
            ///
            /// # Errors
            ///
            /// The error of an earlier queued send (`EPIPE`, `ECONNRESET`, …), once;
            /// the bytes queued behind a failed send are dropped, and so is `buf`.
            ///
            /// # Cancel safety
            ///
            /// Cancel safe: dropped before it resolves, the buffer was not queued.
            /// Once queued, it goes out whatever becomes of the future.
            fn write_queued
        }

        $crate::net::stream_methods::forward! {
            /// Waits until every write queued with [`write_queued`](Self::write_queued)
            /// went out; reports the error of one that failed (once).
            ///
            /// # Cancel safety
            ///
            /// Cancel safe: it only waits.
            fn flush_queued
        }

        $crate::net::stream_methods::forward! {
            /// Writes every initialised byte of `buf`, retrying short writes.
            ///
            $(#[$write_all])*
            ///
            /// # Cancel safety
            ///
            /// Not cancel safe: dropped midway, an unknown prefix of `buf` has been sent.
            $(#[$write_all_cancel])*
            fn write_all
        }

        $crate::net::stream_methods::forward! {
            $(#[$send_file])*
            ///
            /// # Cancel safety
            ///
            /// Not cancel safe: dropped midway, an unknown prefix of the range has been sent.
            fn send_file
        }

        $crate::net::stream_methods::forward! {
            $(#[$readv])*
            ///
            /// # Cancel safety
            ///
            /// Cancel safe, as [`read`](Self::read).
            fn readv
        }

        $crate::net::stream_methods::forward! {
            /// Writes the initialised bytes of `bufs`, in order, with one
            /// `sendmsg(2)`; resolves to the total written (maybe short) and the buffers.
            ///
            /// # Cancel safety
            ///
            /// Not cancel safe, as [`write`](Self::write).
            fn writev
        }

        $crate::net::stream_methods::forward! {
            /// Shuts down the reading, writing or both directions. After
            /// `Shutdown::Write` the peer reads end of stream once it has read
            /// everything sent before.
            ///
            /// # Cancel safety
            ///
            /// Safe to drop; the shutdown may or may not have happened.
            fn shutdown
        }
    };
}

/// The method `fn name` under the docs given, forwarding to `self.core` (a
/// `StreamCore`): one signature for a stream type and its split halves,
/// which document it differently. Expands inside an `impl` block.
macro_rules! forward {
    ($(#[$doc:meta])* fn read) => {
        $(#[$doc])*
        pub fn read<B: $crate::buf::IoBufMut>(&self, buf: B) -> $crate::net::Read<B> {
            self.core.read(buf)
        }
    };
    ($(#[$doc:meta])* fn readable) => {
        $(#[$doc])*
        pub fn readable(
            &self,
        ) -> impl ::std::future::Future<Output = ::std::io::Result<()>> + 'static {
            self.core.readable()
        }
    };
    ($(#[$doc:meta])* fn recv_buf) => {
        $(#[$doc])*
        #[inline]
        pub fn recv_buf(&self) -> $crate::net::RecvBufFuture {
            self.core.recv_buf()
        }
    };
    ($(#[$doc:meta])* fn peek) => {
        $(#[$doc])*
        pub fn peek<B: $crate::buf::IoBufMut>(&self, buf: B) -> $crate::net::Read<B> {
            self.core.peek(buf)
        }
    };
    ($(#[$doc:meta])* fn write) => {
        $(#[$doc])*
        pub fn write<B: $crate::buf::IoBuf>(&self, buf: B) -> $crate::net::Write<B> {
            self.core.write(buf)
        }
    };
    ($(#[$doc:meta])* fn write_queued) => {
        $(#[$doc])*
        #[inline]
        pub fn write_queued<B: $crate::buf::IoBuf + Send>(
            &self,
            buf: B,
        ) -> $crate::net::WriteQueued<B> {
            self.core.write_queued(buf)
        }
    };
    ($(#[$doc:meta])* fn flush_queued) => {
        $(#[$doc])*
        pub fn flush_queued(
            &self,
        ) -> impl ::std::future::Future<Output = ::std::io::Result<()>> + 'static {
            self.core.flush_queued()
        }
    };
    ($(#[$doc:meta])* fn write_all) => {
        $(#[$doc])*
        pub fn write_all<B: $crate::buf::IoBuf>(
            &self,
            buf: B,
        ) -> impl ::std::future::Future<Output = $crate::buf::BufResult<(), B>> {
            self.core.write_all(buf)
        }
    };
    ($(#[$doc:meta])* fn send_file) => {
        $(#[$doc])*
        pub fn send_file(
            &self,
            file: &$crate::fs::File,
            offset: u64,
            len: u64,
        ) -> impl ::std::future::Future<Output = ::std::io::Result<u64>> + 'static {
            self.core.send_file(file, offset, len)
        }
    };
    ($(#[$doc:meta])* fn readv) => {
        $(#[$doc])*
        pub fn readv<B: $crate::buf::IoBufMut>(&self, bufs: Vec<B>) -> $crate::net::Readv<B> {
            self.core.readv(bufs)
        }
    };
    ($(#[$doc:meta])* fn writev) => {
        $(#[$doc])*
        pub fn writev<B: $crate::buf::IoBuf>(&self, bufs: Vec<B>) -> $crate::net::Writev<B> {
            self.core.writev(bufs)
        }
    };
    ($(#[$doc:meta])* fn shutdown) => {
        $(#[$doc])*
        pub fn shutdown(
            &self,
            how: ::std::net::Shutdown,
        ) -> impl ::std::future::Future<Output = ::std::io::Result<()>> {
            self.core.shutdown(how)
        }
    };
}

pub(crate) use {forward, stream_methods};
