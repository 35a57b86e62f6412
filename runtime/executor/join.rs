//! `JoinHandle` and `JoinError`: awaiting, aborting and detaching tasks.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use super::coop;

/// Why a task did not produce its output.
pub struct JoinError {
    /// Cancelled or panicked.
    repr: Repr,
}

/// The two ways a task can fail to finish.
enum Repr {
    /// Aborted, or dropped at runtime shutdown.
    Cancelled,
    /// Panicked; the payload, behind a mutex so `JoinError` is `Sync`.
    Panic(Mutex<Box<dyn Any + Send + 'static>>),
}

impl JoinError {
    pub(crate) fn cancelled() -> Self {
        JoinError {
            repr: Repr::Cancelled,
        }
    }

    pub(crate) fn panic(payload: Box<dyn Any + Send + 'static>) -> Self {
        JoinError {
            repr: Repr::Panic(Mutex::new(payload)),
        }
    }

    /// Whether the task was aborted or dropped at shutdown.
    pub fn is_cancelled(&self) -> bool {
        matches!(self.repr, Repr::Cancelled)
    }

    /// Whether the task panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self.repr, Repr::Panic(_))
    }

    /// The panic payload, to resume it with `std::panic::resume_unwind`;
    /// gives the error back if the task was cancelled instead.
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send + 'static>, JoinError> {
        match self.repr {
            Repr::Panic(p) => Ok(p.into_inner().unwrap_or_else(|e| e.into_inner())),
            Repr::Cancelled => Err(self),
        }
    }

    /// The panic message, when the payload is a string.
    fn panic_message(&self) -> Option<String> {
        let Repr::Panic(p) = &self.repr else {
            return None;
        };
        let p = p.lock().unwrap_or_else(|e| e.into_inner());
        p.downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.repr, self.panic_message()) {
            (Repr::Cancelled, _) => f.write_str("task was cancelled"),
            (Repr::Panic(_), Some(msg)) => write!(f, "task panicked: {msg}"),
            (Repr::Panic(_), None) => f.write_str("task panicked"),
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Cancelled => f.write_str("JoinError::Cancelled"),
            Repr::Panic(_) => write!(f, "JoinError::Panic({:?})", self.panic_message()),
        }
    }
}

impl std::error::Error for JoinError {}

impl From<JoinError> for std::io::Error {
    fn from(e: JoinError) -> Self {
        std::io::Error::other(e)
    }
}

/// What a `JoinHandle` needs from a task, whatever its future type.
pub(crate) trait Joinable<T>: Send + Sync {
    /// The output's rendezvous.
    fn join_state(&self) -> &JoinState<T>;
    /// Requests cancellation.
    fn abort(self: Arc<Self>);
}

/// Output hand-over between a task and its handle.
pub(crate) struct JoinState<T> {
    /// Output, waker and flags; contended only at completion.
    inner: Mutex<JoinInner<T>>,
}

/// See [`JoinState`].
struct JoinInner<T> {
    /// The result, until the handle takes it.
    output: Option<Result<T, JoinError>>,
    /// The handle's waker.
    waker: Option<Waker>,
    /// The task has finished (output stored, taken or dropped).
    finished: bool,
    /// The handle was dropped: drop the output at once.
    detached: bool,
}

impl<T> JoinState<T> {
    pub(crate) fn new() -> Self {
        JoinState {
            inner: Mutex::new(JoinInner {
                output: None,
                waker: None,
                finished: false,
                detached: false,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, JoinInner<T>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The task finished: store the output for the handle (or drop it if detached).
    pub(crate) fn complete(&self, out: Result<T, JoinError>) {
        let mut g = self.lock();
        g.finished = true;
        if g.detached {
            drop(g);
            drop(out);
            return;
        }
        g.output = Some(out);
        let waker = g.waker.take();
        drop(g);
        if let Some(w) = waker {
            w.wake();
        }
    }

    fn poll(&self, cx: &mut Context<'_>) -> Poll<Result<T, JoinError>> {
        let mut g = self.lock();
        if let Some(out) = g.output.take() {
            return Poll::Ready(out);
        }
        if g.finished {
            // Polled again after it returned its output: nothing more will come.
            return Poll::Ready(Err(JoinError::cancelled()));
        }
        match &g.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => g.waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    pub(crate) fn is_finished(&self) -> bool {
        self.lock().finished
    }

    fn detach(&self) {
        let mut g = self.lock();
        g.detached = true;
        g.waker = None;
        let out = g.output.take();
        drop(g);
        drop(out);
    }
}

/// An owned permission to await a task's output.
///
/// Awaiting yields `Ok(output)`, or a [`JoinError`] if the task panicked or
/// was cancelled. Dropping the handle detaches the task: it keeps running.
///
/// ```
/// runtime::block_on(async {
///     let h = runtime::spawn(async { 40 + 2 });
///     assert_eq!(h.await.unwrap(), 42);
/// });
/// ```
#[must_use = "dropping a JoinHandle detaches the task; await it to get the output"]
pub struct JoinHandle<T> {
    /// The task (or blocking job) behind the handle.
    raw: Arc<dyn Joinable<T>>,
    /// `Send`/`Sync` only when the output may cross threads.
    _output: PhantomData<Mutex<T>>,
}

impl<T> JoinHandle<T> {
    pub(crate) fn new(raw: Arc<dyn Joinable<T>>) -> Self {
        JoinHandle {
            raw,
            _output: PhantomData,
        }
    }

    /// Cancels the task: it is dropped at its next scheduling point and the
    /// handle yields a cancelled `JoinError`. A task that already finished, or
    /// a `spawn_blocking` closure that already started, is not affected.
    pub fn abort(&self) {
        self.raw.clone().abort();
    }

    /// Whether the task has finished (with output, panic or cancellation).
    pub fn is_finished(&self) -> bool {
        self.raw.join_state().is_finished()
    }

    /// A handle that can abort the task (or ask whether it finished) without
    /// owning its output; it may be cloned and sent to other threads.
    ///
    /// ```
    /// runtime::block_on(async {
    ///     let h = runtime::spawn(std::future::pending::<()>());
    ///     let abort = h.abort_handle();
    ///     abort.abort();
    ///     assert!(h.await.unwrap_err().is_cancelled());
    /// });
    /// ```
    pub fn abort_handle(&self) -> super::AbortHandle
    where
        T: 'static,
    {
        super::AbortHandle::new(self.raw.clone())
    }

    /// Polls for the output without spending the task's cooperative budget
    /// (a `JoinSet` accounts for it once per output it yields).
    pub(crate) fn poll_output(&self, cx: &mut Context<'_>) -> Poll<Result<T, JoinError>> {
        self.raw.join_state().poll(cx)
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if !coop::has_budget(cx) {
            return Poll::Pending;
        }
        let res = self.raw.join_state().poll(cx);
        if res.is_ready() {
            coop::consume();
        }
        res
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        self.raw.join_state().detach();
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("finished", &self.is_finished())
            .finish()
    }
}
