//! Registered (fixed) files and the choice, per op, between registered and
//! plain resources.
//!
//! A [`FixedFile`] is a slot in one ring's file table. Every op that names
//! the slot holds a clone, so the slot is emptied (and may be reused) only
//! after the `File` and all those ops are gone: an entry can never reach
//! the kernel naming a slot that was refilled with another file. The holder
//! that drops last gives the slot back through the handle registration made
//! (`driver::FixedTables`): the owning driver empties it at once when
//! dropped on that worker, or in its next turn (it is woken) when dropped
//! elsewhere. [`FixedFile::close`] also says when.

use std::sync::{Arc, Mutex};

use crate::buf::{FixedSlot, FixedToken, IoBuf};
use crate::driver::{DriverId, Emptied, FixedTables};
use crate::sys::SharedFd;

/// A file's slot in a ring's registered-file table.
#[derive(Debug, Clone)]
pub(crate) struct FixedFile {
    /// Shared by the `File` and every op naming the slot.
    inner: Arc<FileSlot>,
}

/// One taken slot; emptied when the last holder drops it.
#[derive(Debug)]
struct FileSlot {
    /// The tables of the driver that holds the file, and the way to give
    /// the slot back.
    tables: FixedTables,
    /// The slot (`types::Fixed`).
    slot: u32,
    /// The plain descriptor, open as long as the slot is: ops naming the
    /// slot use it on the epoll driver and on other rings. `None` only in
    /// `drop`, which lets it go before it releases the slot, so a close
    /// told the slot is empty finds this reference gone too.
    fd: Option<SharedFd>,
    /// Set by [`FixedFile::close`]: told when the slot is empty.
    on_release: Mutex<Option<Arc<Emptied>>>,
}

impl FixedFile {
    /// Registers `fd` with the current worker's ring, or says why not (the
    /// epoll driver, no runtime, a refused registration).
    pub(crate) fn register(fd: &SharedFd) -> Result<FixedFile, String> {
        let (slot, tables) = super::register("registered files", |driver, here| {
            driver.register_file(fd.raw(), here)
        })?;
        Ok(FixedFile {
            inner: Arc::new(FileSlot {
                tables,
                slot,
                fd: Some(fd.clone()),
                on_release: Mutex::new(None),
            }),
        })
    }

    /// Gives up this holder's share of the slot; the result tells when the
    /// slot is empty, after every other holder (each op in flight naming
    /// it) is gone too, or why it is not.
    pub(crate) fn close(self) -> Arc<Emptied> {
        let emptied = Emptied::new();
        *self
            .inner
            .on_release
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(emptied.clone());
        drop(self);
        emptied
    }

    /// The slot, for `types::Fixed`.
    pub(crate) fn slot(&self) -> u32 {
        self.inner.slot
    }

    /// Whether this is the only holder (no op in flight names the slot).
    pub(crate) fn is_sole_holder(&self) -> bool {
        Arc::strong_count(&self.inner) == 1
    }
}

impl Drop for FileSlot {
    fn drop(&mut self) {
        drop(self.fd.take());
        let done = self
            .on_release
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        // On the owning worker, emptied now; else at its next turn.
        self.tables.release_file(self.slot, done);
    }
}

/// The registered resources one op may use instead of the plain ones.
/// Which of them it does use is settled at submission
/// ([`bind`](Fixed::bind)): only slots in the submitting ring's tables, so a
/// `File` or buffer registered under another runtime takes the plain path
/// there, and no entry ever names another ring's slot.
#[derive(Debug)]
pub(crate) struct Fixed {
    /// The file: registered somewhere, or only its plain descriptor.
    file: FileRef,
    /// Whether the file's slot is in the submitting ring's table.
    file_bound: bool,
    /// The buffer's slot, if it is registered with some ring.
    buf: Option<FixedSlot>,
}

/// How an op holds its file; either way the descriptor stays open.
#[derive(Debug)]
enum FileRef {
    /// Registered: the slot holds the descriptor too (one reference count
    /// per op, not two).
    Registered(FixedFile),
    /// Not registered anywhere.
    Plain(SharedFd),
}

impl Fixed {
    /// The registrations of `file` (whose descriptor is `fd`) and `buf`,
    /// wherever they are; `None` if neither is registered (a plain op,
    /// without asking any driver).
    #[inline]
    pub(crate) fn of(fd: &SharedFd, file: Option<&FixedFile>, buf: &impl IoBuf) -> Option<Fixed> {
        let buf = buf.fixed_slot(FixedToken(()));
        if file.is_none() && buf.is_none() {
            return None;
        }
        let file = match file {
            Some(f) => FileRef::Registered(f.clone()),
            None => FileRef::Plain(fd.clone()),
        };
        Some(Fixed {
            file,
            file_bound: false,
            buf,
        })
    }

    /// Keeps only the slots in the tables `table` names (the submitting
    /// ring's); the others are left unused, so the op uses plain resources.
    #[inline]
    pub(crate) fn bind(&mut self, table: DriverId) {
        self.file_bound =
            matches!(&self.file, FileRef::Registered(f) if f.inner.tables.id() == table);
        if self.buf.is_some_and(|b| b.table != table) {
            self.buf = None;
        }
    }

    /// The plain descriptor (epoll, and rings the file is not registered with).
    #[inline]
    pub(crate) fn fd(&self) -> &SharedFd {
        match &self.file {
            FileRef::Registered(f) => match &f.inner.fd {
                Some(fd) => fd,
                None => unreachable!("a slot lets its descriptor go only when dropped"),
            },
            FileRef::Plain(fd) => fd,
        }
    }

    /// The registered file slot to name, if bound.
    #[inline]
    pub(crate) fn file_slot(&self) -> Option<u32> {
        match &self.file {
            FileRef::Registered(f) if self.file_bound => Some(f.slot()),
            _ => None,
        }
    }

    /// The registered buffer index to name, if bound.
    #[inline]
    pub(crate) fn buf_index(&self) -> Option<u16> {
        self.buf.map(|b| b.index)
    }
}
