//! The trait set every stream type and split half gets, from one list:
//! [`for_each_stream!`] names them, and each trait family implements itself
//! over that list: [`ReadOwned`](crate::io::ReadOwned) and
//! [`WriteOwned`](crate::io::WriteOwned) for `T` and `&T` here, the
//! poll-based bridges in `runtime/io/compat/`.

/// Invokes the macro `$m` with every stream type or half that reads
/// (`read: [..]`) and every one that writes (`write: [..]`). A new stream
/// type added here gets every trait at once.
macro_rules! for_each_stream {
    ($m:ident) => {
        $m! {
            read: [
                $crate::net::TcpStream,
                $crate::net::tcp::OwnedReadHalf,
                $crate::net::UnixStream,
                $crate::net::unix::OwnedReadHalf
            ],
            write: [
                $crate::net::TcpStream,
                $crate::net::tcp::OwnedWriteHalf,
                $crate::net::UnixStream,
                $crate::net::unix::OwnedWriteHalf
            ]
        }
    };
}

// Used by the bridges in `runtime/io/compat/`, each behind its feature.
#[allow(unused_imports)]
pub(crate) use for_each_stream;

/// `ReadOwned` for each reader `T` and `&T` (like std's `impl Read for
/// &TcpStream`: the methods take `&self` anyway), `WriteOwned` likewise.
macro_rules! owned_io {
    (read: [$($r:ty),*], write: [$($w:ty),*]) => {
        $(
            impl $crate::io::ReadOwned for $r {
                owned_io!(@read);
            }
            impl $crate::io::ReadOwned for &$r {
                owned_io!(@read);
            }
        )*
        $(
            impl $crate::io::WriteOwned for $w {
                owned_io!(@write);
            }
            impl $crate::io::WriteOwned for &$w {
                owned_io!(@write);
            }
        )*
    };
    (@read) => {
        fn read<B: $crate::buf::IoBufMut>(
            &mut self,
            buf: B,
        ) -> impl ::std::future::Future<Output = $crate::buf::BufResult<usize, B>> {
            $crate::net::stream_core::AsStreamCore::stream_core(&*self).read(buf)
        }

        fn readv<B: $crate::buf::IoBufMut>(
            &mut self,
            bufs: Vec<B>,
        ) -> impl ::std::future::Future<Output = $crate::buf::BufResult<usize, Vec<B>>> {
            $crate::net::stream_core::AsStreamCore::stream_core(&*self).readv(bufs)
        }
    };
    (@write) => {
        fn write<B: $crate::buf::IoBuf>(
            &mut self,
            buf: B,
        ) -> impl ::std::future::Future<Output = $crate::buf::BufResult<usize, B>> {
            $crate::net::stream_core::AsStreamCore::stream_core(&*self).write(buf)
        }

        fn writev<B: $crate::buf::IoBuf>(
            &mut self,
            bufs: Vec<B>,
        ) -> impl ::std::future::Future<Output = $crate::buf::BufResult<usize, Vec<B>>> {
            $crate::net::stream_core::AsStreamCore::stream_core(&*self).writev(bufs)
        }

        fn write_all<B: $crate::buf::IoBuf>(
            &mut self,
            buf: B,
        ) -> impl ::std::future::Future<Output = $crate::buf::BufResult<(), B>> {
            $crate::net::stream_core::AsStreamCore::stream_core(&*self).write_all(buf)
        }

        fn shutdown(&mut self) -> impl ::std::future::Future<Output = ::std::io::Result<()>> {
            $crate::net::stream_core::AsStreamCore::stream_core(&*self)
                .shutdown(::std::net::Shutdown::Write)
        }
    };
}

for_each_stream!(owned_io);
