//! Which io_uring workers keep a multishot poll on each fd, so that the fd's
//! last handle, dropped on any thread, can have every such poll cancelled.
//!
//! A poll holds a reference to the file: while one is armed, closing the
//! descriptor does not close the socket, and the peer sees no FIN. A worker
//! records itself here whenever it arms a poll for a registration (an fd
//! number and the id of the `SharedFd` owning it); the last handle takes the
//! record and hands each owner a release ([`Unpark::release`]), which that
//! worker turns into an `AsyncCancel` on its next loop turn. The descriptor
//! itself may be closed at once: a poll is cancelled by its `user_data` (fd
//! number and generation), and a reused number starts a new registration
//! (new id, new generation) in every registry, so a late event of the old
//! poll is recognised and ignored.
//!
//! Records are indexed by fd number, spread over a few locks; a lock is taken
//! when a worker arms a registration's poll (once per registration, or again
//! after the kernel ended the poll) and once when the descriptor closes, never
//! per read or write. Ops reach the driver with only the fd number and id,
//! which is why the record lives here and not in the `SharedFd`.

use std::os::fd::RawFd;
use std::sync::{Arc, Mutex, MutexGuard};

use super::unpark::Unpark;

/// Number of locks; a power of two, so an fd's shard is its low bits.
const SHARDS: usize = 16;

/// The records of the fds whose number is `shard` modulo `SHARDS`.
static TABLE: [Mutex<Shard>; SHARDS] = [const {
    Mutex::new(Shard {
        records: Vec::new(),
        extra: Vec::new(),
    })
}; SHARDS];

/// One lock's records.
struct Shard {
    /// By fd / `SHARDS`: 16 bytes per fd number, touched only once used.
    records: Vec<Record>,
    /// Further owners of a record, as (index, id, worker): an fd used from
    /// several runtimes, which is rare, so kept out of `records`.
    extra: Vec<(usize, u64, Arc<Unpark>)>,
}

/// The first worker polling one registration.
#[derive(Default)]
struct Record {
    /// The registration (`SharedFd` id); 0 for a free record.
    id: u64,
    /// The first worker to poll it (almost always the only one).
    owner: Option<Arc<Unpark>>,
}

/// The shard of `fd` and its index there, or `None` for a negative fd.
fn locate(fd: RawFd) -> Option<(MutexGuard<'static, Shard>, usize)> {
    let fd = usize::try_from(fd).ok()?;
    let shard = TABLE[fd % SHARDS].lock().unwrap_or_else(|e| e.into_inner());
    Some((shard, fd / SHARDS))
}

/// A worker (`owner`) armed a poll for registration `id` of `fd`.
pub(crate) fn record(fd: RawFd, id: u64, owner: &Arc<Unpark>) {
    let Some((mut shard, idx)) = locate(fd) else {
        return;
    };
    let Shard { records, extra } = &mut *shard;
    if records.len() <= idx {
        records.resize_with(idx + 1, Record::default);
    }
    let rec = &mut records[idx];
    if rec.id != id {
        // A record of an earlier registration of this number: that fd is
        // closed, and its last handle already released its owners.
        extra.retain(|(i, _, _)| *i != idx);
        *rec = Record {
            id,
            owner: Some(owner.clone()),
        };
        return;
    }
    match &rec.owner {
        Some(first) if Arc::ptr_eq(first, owner) => {}
        None => rec.owner = Some(owner.clone()),
        Some(_) => {
            let known = extra
                .iter()
                .any(|(i, r, o)| *i == idx && *r == id && Arc::ptr_eq(o, owner));
            if !known {
                extra.push((idx, id, owner.clone()));
            }
        }
    }
}

/// The last handle of registration `id` of `fd` is going: every worker that
/// polls it except `local` (which the caller deals with itself) is asked to
/// cancel its poll.
pub(crate) fn release(fd: RawFd, id: u64, local: Option<&Arc<Unpark>>) {
    // The usual single owner needs no allocation; further ones go to `more`.
    let mut more = Vec::new();
    let first = {
        let Some((mut shard, idx)) = locate(fd) else {
            return;
        };
        let Shard { records, extra } = &mut *shard;
        let first = match records.get_mut(idx) {
            Some(rec) if rec.id == id => std::mem::take(rec).owner,
            _ => return,
        };
        if !extra.is_empty() {
            extra.retain(|(i, r, o)| {
                let mine = *i == idx && *r == id;
                if mine {
                    more.push(o.clone());
                }
                !mine
            });
        }
        first
    };
    // Outside the lock: a release may write an eventfd.
    for owner in first.iter().chain(&more) {
        if !local.is_some_and(|l| Arc::ptr_eq(l, owner)) {
            owner.release(fd, id);
        }
    }
}
