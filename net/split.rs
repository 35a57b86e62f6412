//! The one split-half core: `owned_halves!` defines a stream type's
//! `OwnedReadHalf`, `OwnedWriteHalf` and `ReuniteError` (TCP and Unix each
//! invoke it once), so the halves of both stream kinds have the same
//! methods, docs and behaviour. Each I/O method is the stream's own
//! `forward!` (`stream_methods.rs`) under the halves' shorter docs. Their
//! trait impls come from
//! [`for_each_stream!`](crate::net::stream_traits::for_each_stream), like the streams'.

/// Defines `OwnedReadHalf`, `OwnedWriteHalf` and `ReuniteError` for
/// `$stream`, whose addresses are `$addr`, read from a core by `$peer` and
/// `$local`; `$kind` names the stream kind in messages ("TCP", "Unix").
macro_rules! owned_halves {
    (stream: $stream:ident, addr: $addr:ty, peer: $peer:path, local: $local:path, kind: $kind:literal) => {
        #[doc = concat!("The reading half of a [`", stringify!($stream), "`].")]
        #[doc = concat!("From [`", stringify!($stream), "::into_split`].")]
        ///
        /// It may move to another task or worker than its write half; the socket
        /// closes once both halves are dropped (and no operation uses it).
        #[derive(Debug)]
        pub struct OwnedReadHalf {
            /// The socket, shared with the write half.
            core: $crate::net::stream_core::StreamCore,
        }

        #[doc = concat!("The writing half of a [`", stringify!($stream), "`].")]
        #[doc = concat!("From [`", stringify!($stream), "::into_split`].")]
        ///
        /// Dropping it does not shut the connection down (the read half keeps the
        /// socket open): call [`shutdown`](OwnedWriteHalf::shutdown) so the peer
        /// reads end of stream.
        #[derive(Debug)]
        pub struct OwnedWriteHalf {
            /// The socket, shared with the read half.
            core: $crate::net::stream_core::StreamCore,
        }

        impl OwnedReadHalf {
            /// Both halves of a stream's core.
            pub(crate) fn split(
                core: $crate::net::stream_core::StreamCore,
            ) -> (OwnedReadHalf, OwnedWriteHalf) {
                let (read, write) = core.split();
                (OwnedReadHalf { core: read }, OwnedWriteHalf { core: write })
            }

            /// Puts the halves back together.
            ///
            /// # Errors
            ///
            /// [`ReuniteError`], holding both halves, if they come from different streams.
            pub fn reunite(self, other: OwnedWriteHalf) -> Result<$stream, ReuniteError> {
                if self.core.same_socket(&other.core) {
                    drop(other);
                    Ok($stream::from_core(self.core))
                } else {
                    Err(ReuniteError(self, other))
                }
            }

            $crate::net::stream_methods::forward! {
                #[doc = concat!("See [`", stringify!($stream), "::read`].")]
                ///
                /// # Cancel safety
                ///
                /// Cancel safe: bytes are taken only by the poll that returns them.
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
                fn readable
            }

            $crate::net::stream_methods::forward! {
                #[doc = concat!("See [`", stringify!($stream), "::peek`].")]
                ///
                /// # Cancel safety
                ///
                /// Cancel safe: it takes nothing from the socket.
                fn peek
            }

            $crate::net::stream_methods::forward! {
                #[doc = concat!("See [`", stringify!($stream), "::recv_buf`].")]
                ///
                /// # Cancel safety
                ///
                /// Cancel safe: bytes are taken only by the poll that returns them.
                fn recv_buf
            }

            $crate::net::stream_methods::forward! {
                #[doc = concat!("See [`", stringify!($stream), "::readv`].")]
                ///
                /// # Cancel safety
                ///
                /// Cancel safe: bytes are taken only by the poll that returns them.
                fn readv
            }

            /// The address of the peer.
            pub fn peer_addr(&self) -> ::std::io::Result<$addr> {
                $peer(&self.core)
            }

            /// The local address of this end.
            pub fn local_addr(&self) -> ::std::io::Result<$addr> {
                $local(&self.core)
            }
        }

        impl OwnedWriteHalf {
            $crate::net::stream_methods::forward! {
                #[doc = concat!("See [`", stringify!($stream), "::write`].")]
                ///
                /// # Cancel safety
                ///
                /// Not cancel safe: dropped before it resolves, the write may or may
                /// not have sent some bytes, and the count is lost.
                fn write
            }

            $crate::net::stream_methods::forward! {
                #[doc = concat!("See [`", stringify!($stream), "::write_queued`].")]
                ///
                /// # Cancel safety
                ///
                /// Cancel safe: dropped before it resolves, the buffer was not queued.
                fn write_queued
            }

            $crate::net::stream_methods::forward! {
                #[doc = concat!("See [`", stringify!($stream), "::flush_queued`].")]
                ///
                /// # Cancel safety
                ///
                /// Cancel safe: it only waits.
                fn flush_queued
            }

            $crate::net::stream_methods::forward! {
                #[doc = concat!("See [`", stringify!($stream), "::write_all`].")]
                ///
                /// # Cancel safety
                ///
                /// Not cancel safe: dropped midway, an unknown prefix has been sent.
                fn write_all
            }

            $crate::net::stream_methods::forward! {
                #[doc = concat!("See [`", stringify!($stream), "::writev`].")]
                ///
                /// # Cancel safety
                ///
                /// Not cancel safe, as [`write`](OwnedWriteHalf::write).
                fn writev
            }

            /// Shuts down the writing direction: the peer reads end of stream.
            ///
            /// # Cancel safety
            ///
            /// Cancel safe to drop; the shutdown may or may not have happened.
            pub fn shutdown(&self) -> impl ::std::future::Future<Output = ::std::io::Result<()>> {
                self.core.shutdown(::std::net::Shutdown::Write)
            }

            $crate::net::stream_methods::forward! {
                #[doc = concat!("See [`", stringify!($stream), "::send_file`].")]
                ///
                /// # Cancel safety
                ///
                /// Not cancel safe: dropped midway, an unknown prefix has been sent.
                fn send_file
            }

            /// The address of the peer.
            pub fn peer_addr(&self) -> ::std::io::Result<$addr> {
                $peer(&self.core)
            }

            /// The local address of this end.
            pub fn local_addr(&self) -> ::std::io::Result<$addr> {
                $local(&self.core)
            }
        }

        impl $crate::net::stream_core::AsStreamCore for OwnedReadHalf {
            fn stream_core(&self) -> &$crate::net::stream_core::StreamCore {
                &self.core
            }
        }

        impl $crate::net::stream_core::AsStreamCore for OwnedWriteHalf {
            fn stream_core(&self) -> &$crate::net::stream_core::StreamCore {
                &self.core
            }
        }

        impl ::std::os::fd::AsRawFd for OwnedReadHalf {
            fn as_raw_fd(&self) -> ::std::os::fd::RawFd {
                ::std::os::fd::AsRawFd::as_raw_fd(self.core.fd())
            }
        }

        impl ::std::os::fd::AsFd for OwnedReadHalf {
            fn as_fd(&self) -> ::std::os::fd::BorrowedFd<'_> {
                ::std::os::fd::AsFd::as_fd(self.core.fd())
            }
        }

        impl ::std::os::fd::AsRawFd for OwnedWriteHalf {
            fn as_raw_fd(&self) -> ::std::os::fd::RawFd {
                ::std::os::fd::AsRawFd::as_raw_fd(self.core.fd())
            }
        }

        impl ::std::os::fd::AsFd for OwnedWriteHalf {
            fn as_fd(&self) -> ::std::os::fd::BorrowedFd<'_> {
                ::std::os::fd::AsFd::as_fd(self.core.fd())
            }
        }

        /// The halves given to [`OwnedReadHalf::reunite`] came from different streams;
        /// they are handed back unchanged.
        #[derive(Debug)]
        pub struct ReuniteError(pub OwnedReadHalf, pub OwnedWriteHalf);

        impl ::std::fmt::Display for ReuniteError {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(concat!(
                    "tried to reunite halves of different ",
                    $kind,
                    " streams"
                ))
            }
        }

        impl ::std::error::Error for ReuniteError {}
    };
}

pub(crate) use owned_halves;
