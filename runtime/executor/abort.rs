//! `AbortHandle`: cancels a task without owning its output.

use std::fmt;
use std::sync::Arc;

use super::join::Joinable;

/// Cancels a task, like [`JoinHandle::abort`](super::JoinHandle::abort), without
/// the right to its output. [`JoinSet::spawn`](super::JoinSet::spawn) returns one.
///
/// It is `Send + Sync` whatever the task's output type, and dropping it does
/// nothing to the task.
#[derive(Clone)]
pub struct AbortHandle {
    /// The task, its output type erased.
    raw: Arc<dyn Abort>,
}

/// The output-free part of a task handle.
trait Abort: Send + Sync {
    /// Requests cancellation.
    fn abort(&self);
    /// Whether the task has finished.
    fn is_finished(&self) -> bool;
}

/// A [`Joinable`] seen only through [`Abort`].
struct Erased<T>(Arc<dyn Joinable<T>>);

impl<T: 'static> Abort for Erased<T> {
    fn abort(&self) {
        self.0.clone().abort();
    }

    fn is_finished(&self) -> bool {
        self.0.join_state().is_finished()
    }
}

impl AbortHandle {
    pub(crate) fn new<T: 'static>(raw: Arc<dyn Joinable<T>>) -> Self {
        AbortHandle {
            raw: Arc::new(Erased(raw)),
        }
    }

    /// Cancels the task: it is dropped at its next scheduling point and its
    /// `JoinHandle` (or `JoinSet`) yields a cancelled `JoinError`. A task that
    /// already finished is not affected.
    pub fn abort(&self) {
        self.raw.abort();
    }

    /// Whether the task has finished (with output, panic or cancellation).
    pub fn is_finished(&self) -> bool {
        self.raw.is_finished()
    }
}

impl fmt::Debug for AbortHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AbortHandle")
            .field("finished", &self.is_finished())
            .finish()
    }
}
