//! `Builder`: how many workers, which driver, ring size, thread names and
//! hooks; `build` checks the settings and starts a [`Runtime`].
#![forbid(unsafe_code)]

use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use crate::driver::{DriverKind, RecvConfig};
use crate::workers::Runtime;

/// `send_zerocopy_threshold`'s default, off; see there for why.
const DEFAULT_SEND_ZEROCOPY: Option<usize> = None;

/// A hook run on each worker thread the runtime starts.
pub(crate) type Hook = Arc<dyn Fn() + Send + Sync>;

/// Configures and builds a [`Runtime`].
///
/// ```
/// use runtime::{Builder, DriverKind};
/// let rt = Builder::new().workers(2).driver(DriverKind::Epoll).entries(256).build()?;
/// assert_eq!(rt.block_on(async { 1 + 1 }), 2);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct Builder {
    pub(crate) workers: usize,
    pub(crate) driver: DriverKind,
    pub(crate) entries: u32,
    pub(crate) thread_name: String,
    pub(crate) thread_stack_size: Option<usize>,
    pub(crate) max_blocking_threads: usize,
    pub(crate) blocking_keep_alive: Duration,
    pub(crate) event_interval: usize,
    pub(crate) on_thread_start: Option<Hook>,
    pub(crate) on_thread_stop: Option<Hook>,
    pub(crate) recv: RecvConfig,
    pub(crate) send_zerocopy: Option<usize>,
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("workers", &self.workers)
            .field("driver", &self.driver)
            .field("entries", &self.entries)
            .field("thread_name", &self.thread_name)
            .field("max_blocking_threads", &self.max_blocking_threads)
            .field("send_zerocopy_threshold", &self.send_zerocopy)
            .finish_non_exhaustive()
    }
}

impl Default for Builder {
    fn default() -> Self {
        Self::new()
    }
}

impl Builder {
    /// One worker, automatic driver, 1024 ring entries.
    pub fn new() -> Self {
        Builder {
            workers: 1,
            driver: DriverKind::Auto,
            entries: 1024,
            thread_name: "runtime-worker".into(),
            thread_stack_size: None,
            max_blocking_threads: 512,
            blocking_keep_alive: Duration::from_secs(10),
            event_interval: 61,
            on_thread_start: None,
            on_thread_stop: None,
            recv: RecvConfig::default(),
            send_zerocopy: DEFAULT_SEND_ZEROCOPY,
        }
    }

    /// Number of worker threads, each with its own driver (worker 0 is the
    /// thread calling `block_on`). Zero is rejected by `build`.
    pub fn workers(&mut self, n: usize) -> &mut Self {
        self.workers = n;
        self
    }

    /// The driver: explicit `Uring` or `Epoll` wins over `RUNTIME_DRIVER`,
    /// which wins over `Auto`'s probe. An explicit `Uring` that cannot start
    /// makes `build` fail.
    pub fn driver(&mut self, kind: DriverKind) -> &mut Self {
        self.driver = kind;
        self
    }

    /// io_uring submission-queue entries per worker (1..=32768; the
    /// completion queue gets twice as many). Ops beyond this wait, never fail.
    pub fn entries(&mut self, n: u32) -> &mut Self {
        self.entries = n;
        self
    }

    /// Name prefix of the worker threads (`NAME-1`, `NAME-2`, …).
    pub fn thread_name(&mut self, name: impl Into<String>) -> &mut Self {
        self.thread_name = name.into();
        self
    }

    /// Stack size of the worker threads.
    pub fn thread_stack_size(&mut self, bytes: usize) -> &mut Self {
        self.thread_stack_size = Some(bytes);
        self
    }

    /// Upper bound on `spawn_blocking` threads (default 512).
    pub fn max_blocking_threads(&mut self, n: usize) -> &mut Self {
        self.max_blocking_threads = n;
        self
    }

    /// How long an idle blocking thread lingers before exiting (default 10 s).
    pub fn thread_keep_alive(&mut self, d: Duration) -> &mut Self {
        self.blocking_keep_alive = d;
        self
    }

    /// Tasks polled per loop turn before completions are reaped (default 61).
    pub fn event_interval(&mut self, n: usize) -> &mut Self {
        self.event_interval = n;
        self
    }

    /// io_uring: the provided buffers each worker lends its multishot
    /// receives: `count` of `size` bytes (defaults 256 of 16 KiB: 4 MiB per
    /// worker, mapped and touched at start-up). A socket's received bytes
    /// wait in them until read; when all are lent out, reads receive
    /// straight into the caller's buffer instead. `count` must be a power of
    /// two up to 32,768 (or 0: no provided buffers, so every read receives
    /// straight into its own buffer), `size` from 1 KiB to 1 MiB. epoll
    /// ignores it.
    pub fn recv_buffers(&mut self, count: u16, size: u32) -> &mut Self {
        self.recv.buffers = count;
        self.recv.buffer_size = size;
        self
    }

    /// io_uring: unread bytes one socket's receive queue may hold (default
    /// 64 KiB). Past it, the socket's multishot receive pauses until the
    /// queue is read, and further bytes wait in the kernel's socket buffer
    /// (so TCP flow control slows the peer down): a reader that falls
    /// behind costs at most this much, never more. epoll ignores it (it
    /// receives only when read).
    pub fn max_queued_bytes(&mut self, bytes: usize) -> &mut Self {
        self.recv.max_queued = bytes;
        self
    }

    /// io_uring: accepted connections a listener may hold before `accept`
    /// takes them (default 256); further ones wait in the kernel's backlog.
    pub fn max_queued_connections(&mut self, n: usize) -> &mut Self {
        self.recv.max_conns = n;
        self
    }

    /// io_uring: the smallest `write_all` buffer (on `TcpStream` and its
    /// write half) that goes out zero-copy, as one `IORING_OP_SEND_ZC`, or
    /// `None` (the default) to copy every send into the kernel.
    ///
    /// A zero-copy send saves the copy, but the buffer stays the kernel's
    /// until its notification: for TCP, once the peer acknowledged the
    /// bytes. The `write_all` resolves, handing the buffer back, only then,
    /// so each one waits a round trip where a copied send does not, and
    /// pinning the pages and the second completion cost more than copying
    /// small buffers. It pays for large buffers on a network device that
    /// sends from user pages; on loopback the kernel copies anyway, and
    /// measured here (2 cores, Linux 6.18, `benches/send_zerocopy.rs`,
    /// `benches/results/history.md`) it was slower at every size from
    /// 4 KiB to 1 MiB, by 27 times at 4 KiB to 2.5 times at 1 MiB. Hence
    /// off by default: set it where a measurement on the real network says
    /// so (the kernel's `MSG_ZEROCOPY` notes suggest above about 10 KiB).
    ///
    /// Where the kernel lacks `IORING_OP_SEND_ZC` (before Linux 6.0), or a
    /// socket or the locked-memory limit refuses it (Unix sockets;
    /// `RLIMIT_MEMLOCK` for pinned pages unless `CAP_IPC_LOCK`), the send
    /// copies instead: never an error. epoll ignores it (it writes on
    /// readiness). [`WorkerMetrics::sends_zerocopy`](crate::WorkerMetrics::sends_zerocopy)
    /// counts the zero-copy sends, and
    /// [`sends_zerocopy_copied`](crate::WorkerMetrics::sends_zerocopy_copied)
    /// those the kernel copied after all.
    ///
    /// ```
    /// let rt = runtime::Builder::new()
    ///     .send_zerocopy_threshold(Some(256 * 1024))
    ///     .build()?;
    /// # drop(rt);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn send_zerocopy_threshold(&mut self, bytes: Option<usize>) -> &mut Self {
        self.send_zerocopy = bytes;
        self
    }

    /// Runs `f` at the start of each worker thread the runtime starts.
    pub fn on_thread_start(&mut self, f: impl Fn() + Send + Sync + 'static) -> &mut Self {
        self.on_thread_start = Some(Arc::new(f));
        self
    }

    /// Runs `f` at the end of each worker thread the runtime starts.
    pub fn on_thread_stop(&mut self, f: impl Fn() + Send + Sync + 'static) -> &mut Self {
        self.on_thread_stop = Some(Arc::new(f));
        self
    }

    /// Starts the workers.
    ///
    /// Errors: `InvalidInput` for zero workers, zero or too many entries, a
    /// zero event interval or a bad `RUNTIME_DRIVER`; the setup error when
    /// io_uring was requested explicitly and cannot start.
    pub fn build(&self) -> io::Result<Runtime> {
        let invalid = |m: &str| io::Error::new(io::ErrorKind::InvalidInput, m.to_string());
        if self.workers == 0 {
            return Err(invalid("a runtime needs at least one worker"));
        }
        if self.entries == 0 || self.entries > 32768 {
            return Err(invalid("entries must be between 1 and 32768"));
        }
        if self.event_interval == 0 {
            return Err(invalid("event_interval must be at least 1"));
        }
        let RecvConfig {
            buffers,
            buffer_size,
            max_queued,
            max_conns,
        } = self.recv;
        if buffers != 0 && (!buffers.is_power_of_two() || buffers > 32768) {
            return Err(invalid(
                "recv_buffers: the count must be 0 or a power of two up to 32768",
            ));
        }
        if !(1024..=1 << 20).contains(&buffer_size) {
            return Err(invalid(
                "recv_buffers: the size must be from 1 KiB to 1 MiB",
            ));
        }
        if max_queued == 0 || max_conns == 0 {
            return Err(invalid("receive queue limits must be at least 1"));
        }
        Runtime::start(self)
    }
}
