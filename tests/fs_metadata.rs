//! `File::cached_metadata` on both drivers: it agrees with `File::metadata`
//! and with `std::fs`, sees writes made through the descriptor, works on
//! directories and on a FIFO opened non-blocking, and never leaves the worker
//! (it is a plain call, usable between awaits).

mod support;

use std::io;
use std::os::unix::fs::MetadataExt;

use runtime::fs::{File, OpenOptions};
use support::TempPath;

#[runtime::test]
async fn agrees_with_metadata_and_std() -> io::Result<()> {
    let path = TempPath::new("fs-metadata-agree");
    runtime::fs::write(&path, vec![7u8; 12_345]).await?;
    let file = File::open(&path).await?;
    let cached = file.cached_metadata()?;
    let synced = file.metadata().await?;
    let oracle = std::fs::metadata(&path)?;
    assert!(cached.is_file() && !cached.is_dir());
    assert_eq!(cached.len(), 12_345);
    assert_eq!(cached.len(), synced.len());
    assert_eq!(cached.ino(), oracle.ino());
    assert_eq!(cached.dev(), synced.dev());
    assert_eq!(cached.mode(), oracle.mode());
    assert_eq!(cached.modified()?, synced.modified()?);
    assert_eq!(cached.modified()?, oracle.modified()?);
    Ok(())
}

#[runtime::test]
async fn sees_writes_through_the_descriptor() -> io::Result<()> {
    let path = TempPath::new("fs-metadata-grow");
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .await?;
    assert_eq!(file.cached_metadata()?.len(), 0);
    let (res, _) = file.write_all_at(vec![1u8; 5000], 0).await;
    res?;
    assert_eq!(file.cached_metadata()?.len(), 5000);
    file.set_len(100).await?;
    assert_eq!(file.cached_metadata()?.len(), 100);
    Ok(())
}

#[runtime::test]
async fn directory() -> io::Result<()> {
    let dir = File::open(std::env::temp_dir()).await?;
    let meta = dir.cached_metadata()?;
    assert!(meta.is_dir() && !meta.is_file());
    assert_eq!(meta.ino(), std::fs::metadata(std::env::temp_dir())?.ino());
    Ok(())
}

#[runtime::test]
async fn fifo_opened_non_blocking() -> io::Result<()> {
    let path = TempPath::new("fs-metadata-fifo");
    let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: `c` is a NUL-terminated path that outlives the call.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    // O_NONBLOCK: opening a FIFO for reading must not wait for a writer.
    let fifo = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&path)
        .await?;
    let meta = fifo.cached_metadata()?;
    assert!(meta.file_type().is_fifo());
    assert!(!meta.is_file());
    Ok(())
}
