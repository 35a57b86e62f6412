//! Registered (fixed) files and the choice, per op, between registered and
//! plain resources.
//!
//! A [`FixedFile`] is a slot in one ring's file table. Every op that names
//! the slot holds a clone, so the slot is emptied (and may be reused) only
//! after the `File` and all those ops are gone: an entry can never reach
//! the kernel naming a slot that was refilled with another file. The holder
//! that drops last queues the slot for the owning driver, which empties it
//! at once when dropped on that worker, or at its next registration when
//! dropped elsewhere.

use std::os::fd::RawFd;
use std::sync::Arc;

use crate::buf::{FixedToken, IoBuf};
use crate::context;
use crate::driver::FileReleases;

/// A file's slot in a ring's registered-file table.
#[derive(Debug, Clone)]
pub(crate) struct FixedFile {
    /// Shared by the `File` and every op naming the slot.
    inner: Arc<FileSlot>,
}

/// One taken slot; emptied when the last holder drops it.
#[derive(Debug)]
struct FileSlot {
    /// The driver whose table holds the file.
    table: u64,
    /// The slot (`types::Fixed`).
    slot: u32,
    /// Where the owning driver collects slots to empty.
    releases: FileReleases,
}

impl FixedFile {
    /// Registers `fd` with the current worker's ring, or says why not (the
    /// epoll driver, no runtime, a refused registration).
    pub(crate) fn register(fd: RawFd) -> Result<FixedFile, String> {
        let res = context::with_current(|worker| {
            let Ok(mut driver) = worker.driver.try_borrow_mut() else {
                return Err("the driver was busy".to_owned());
            };
            let res = driver.register_file(fd);
            let on_uring = driver.fixed_id().is_some();
            drop(driver);
            if let (Err(why), true) = (&res, on_uring) {
                crate::rt::note_fallback(worker, "registered files", why);
            }
            res
        });
        let (table, slot, releases) =
            res.unwrap_or_else(|| Err("the file was registered outside a runtime".to_owned()))?;
        Ok(FixedFile {
            inner: Arc::new(FileSlot {
                table,
                slot,
                releases,
            }),
        })
    }

    /// The slot, for `types::Fixed`.
    pub(crate) fn slot(&self) -> u32 {
        self.inner.slot
    }
}

impl Drop for FileSlot {
    fn drop(&mut self) {
        self.releases
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(self.slot);
        context::with_current(|worker| {
            if let Ok(mut driver) = worker.driver.try_borrow_mut() {
                driver.clear_released_files(self.table);
            }
        });
    }
}

/// The registered resources one op uses instead of the plain ones.
#[derive(Debug)]
pub(crate) struct Fixed {
    /// The file's slot, if it is registered with this worker's ring.
    pub(crate) file: Option<FixedFile>,
    /// The buffer's slot, if it is registered with this worker's ring.
    pub(crate) buf: Option<u16>,
}

/// Whether `file` or `buf` is registered anywhere: if not, the op is plain
/// without asking the driver (the common case stays as cheap as before).
#[inline]
pub(crate) fn may_be_fixed(file: Option<&FixedFile>, buf: &impl IoBuf) -> bool {
    file.is_some() || buf.fixed_slot(FixedToken(())).is_some()
}

/// What an op on the current worker may use of `file`'s and `buf`'s
/// registrations; `None` if nothing (plain op). Only registrations in the
/// current ring's tables count, so a `File` or buffer registered under
/// another runtime takes the plain path here.
#[inline]
pub(crate) fn fixed_for(file: Option<FixedFile>, buf: &impl IoBuf) -> Option<Fixed> {
    let buf_slot = buf.fixed_slot(FixedToken(()));
    if file.is_none() && buf_slot.is_none() {
        return None;
    }
    let table = context::with_current(|worker| {
        worker
            .driver
            .try_borrow()
            .ok()
            .and_then(|driver| driver.fixed_id())
    })
    .flatten()?;
    let file = file.filter(|f| f.inner.table == table);
    let buf = buf_slot.filter(|s| s.table == table).map(|s| s.index);
    (file.is_some() || buf.is_some()).then_some(Fixed { file, buf })
}
