//! The wakers waiting for one event of one descriptor (a direction's
//! readiness on epoll, a socket's receive queue on io_uring): inline for the
//! usual single waiter, so an idle connection costs no allocation here.

use std::task::Waker;

/// Tasks waiting for one event.
#[derive(Debug, Default)]
pub(crate) enum Waiters {
    /// Nobody waits.
    #[default]
    None,
    /// One task waits (the common case: one reader per socket).
    One(Waker),
    /// Several tasks wait (several tasks reading one socket).
    Many(Vec<Waker>),
}

impl Waiters {
    /// Adds `waker` unless it is already there.
    #[inline]
    pub(crate) fn add(&mut self, waker: &Waker) {
        match self {
            Waiters::None => *self = Waiters::One(waker.clone()),
            Waiters::One(w) if w.will_wake(waker) => {}
            Waiters::One(_) => {
                let Waiters::One(first) = std::mem::take(self) else {
                    unreachable!("matched above")
                };
                *self = Waiters::Many(vec![first, waker.clone()]);
            }
            Waiters::Many(ws) => {
                if !ws.iter().any(|w| w.will_wake(waker)) {
                    ws.push(waker.clone());
                }
            }
        }
    }

    /// Moves every waker into `out`; returns 1 if there were any, 0 if not
    /// (the epoll registry counts directions with waiters).
    #[inline]
    pub(crate) fn drain_into(&mut self, out: &mut Vec<Waker>) -> usize {
        match std::mem::take(self) {
            Waiters::None => return 0,
            Waiters::One(w) => out.push(w),
            Waiters::Many(ws) => out.extend(ws),
        }
        1
    }
}
