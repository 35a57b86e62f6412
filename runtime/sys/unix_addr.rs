//! `sockaddr_un` ↔ `std::os::unix::net::SocketAddr`: pathname, abstract
//! (Linux: a leading NUL, then a name of raw bytes) and unnamed addresses.
//!
//! std builds these addresses but does not hand out their raw form, and has no
//! constructor from a `sockaddr_un` the kernel filled in, so the kernel-facing
//! conversion lives here.

use std::io;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::SocketAddr;

use super::SockAddr;

/// Offset of `sun_path` in `sockaddr_un`: the bytes before it are the family.
const PATH_OFFSET: usize = std::mem::size_of::<libc::sa_family_t>();

/// Room for the path (or abstract name with its leading NUL).
const PATH_CAPACITY: usize = 108;

/// `addr` in the kernel's layout.
pub(crate) fn to_sock_addr(addr: &SocketAddr) -> io::Result<SockAddr> {
    // SAFETY: `sockaddr_storage` is plain integers, for which all zeroes is valid.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    storage.ss_family = libc::AF_UNIX as libc::sa_family_t;
    let (bytes, lead_nul): (&[u8], bool) = if let Some(name) = addr.as_abstract_name() {
        (name, true)
    } else if let Some(path) = addr.as_pathname() {
        (path.as_os_str().as_bytes(), false)
    } else {
        // Unnamed: the family alone.
        return Ok(SockAddr::from_parts(
            storage,
            PATH_OFFSET as libc::socklen_t,
        ));
    };
    // A pathname gets its terminating NUL inside the path; an abstract name's
    // length is exact (the NUL comes first instead).
    let used = bytes.len() + 1;
    if used > PATH_CAPACITY || (!lead_nul && bytes.contains(&0)) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "Unix socket address too long or contains a NUL byte",
        ));
    }
    let start = usize::from(lead_nul);
    sun_path_mut(&mut storage)[start..start + bytes.len()].copy_from_slice(bytes);
    Ok(SockAddr::from_parts(
        storage,
        (PATH_OFFSET + used) as libc::socklen_t,
    ))
}

/// The Unix-domain address the kernel reported in `raw`; a length of 0 (what
/// an unbound peer leaves) is unnamed.
pub(crate) fn from_sock_addr(raw: &SockAddr) -> io::Result<SocketAddr> {
    let len = (raw.len() as usize).min(PATH_OFFSET + PATH_CAPACITY);
    if len <= PATH_OFFSET {
        // An unbound peer: the kernel reports no name at all (length 0) or the family alone.
        return unnamed();
    }
    if raw.family() != libc::AF_UNIX {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "not a Unix-domain address",
        ));
    }
    let path = &sun_path(raw.storage())[..len - PATH_OFFSET];
    match path.split_first() {
        Some((0, name)) => SocketAddr::from_abstract_name(name),
        _ => {
            let end = path.iter().position(|&b| b == 0).unwrap_or(path.len());
            SocketAddr::from_pathname(std::ffi::OsStr::from_bytes(&path[..end]))
        }
    }
}

/// An unnamed address (what an unbound socket reports).
fn unnamed() -> io::Result<SocketAddr> {
    // std treats a `sockaddr_un` holding the family alone as unnamed; an empty
    // pathname is exactly that.
    match SocketAddr::from_pathname("") {
        Ok(addr) if addr.is_unnamed() => Ok(addr),
        // Should std ever reject it: ask the kernel for an unbound socket's name.
        _ => std::os::unix::net::UnixDatagram::unbound()?.local_addr(),
    }
}

/// The `sun_path` bytes of the storage.
fn sun_path(storage: &libc::sockaddr_storage) -> &[u8] {
    let base = (storage as *const libc::sockaddr_storage).cast::<u8>();
    // SAFETY: `sockaddr_storage` (128 bytes) covers `sun_path` at offset 2 for 108
    // bytes, all initialised, and `storage` is borrowed for the result.
    unsafe { std::slice::from_raw_parts(base.add(PATH_OFFSET), PATH_CAPACITY) }
}

/// The `sun_path` bytes of the storage, writable.
fn sun_path_mut(storage: &mut libc::sockaddr_storage) -> &mut [u8] {
    let base = (storage as *mut libc::sockaddr_storage).cast::<u8>();
    // SAFETY: as in `sun_path`, with `storage` borrowed mutably for the result.
    unsafe { std::slice::from_raw_parts_mut(base.add(PATH_OFFSET), PATH_CAPACITY) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_libc() {
        assert_eq!(
            std::mem::offset_of!(libc::sockaddr_un, sun_path),
            PATH_OFFSET
        );
        // SAFETY: `sockaddr_un` is plain integers, for which all zeroes is valid.
        let un: libc::sockaddr_un = unsafe { std::mem::zeroed() };
        assert_eq!(un.sun_path.len(), PATH_CAPACITY);
    }

    #[test]
    fn pathname_roundtrip() {
        let addr = SocketAddr::from_pathname("/tmp/some.sock").unwrap();
        let raw = to_sock_addr(&addr).unwrap();
        assert_eq!(raw.len() as usize, PATH_OFFSET + "/tmp/some.sock".len() + 1);
        let back = from_sock_addr(&raw).unwrap();
        assert_eq!(back.as_pathname(), addr.as_pathname());
    }

    #[test]
    fn abstract_roundtrip_keeps_nul_bytes() {
        let addr = SocketAddr::from_abstract_name(b"a\0b").unwrap();
        let raw = to_sock_addr(&addr).unwrap();
        assert_eq!(raw.len() as usize, PATH_OFFSET + 4);
        let back = from_sock_addr(&raw).unwrap();
        assert_eq!(back.as_abstract_name(), Some(&b"a\0b"[..]));
    }

    #[test]
    fn unnamed_both_ways() {
        let nothing = SockAddr::from_parts(*SockAddr::empty().storage(), 0);
        assert!(from_sock_addr(&nothing).unwrap().is_unnamed());
        let unnamed = unnamed().unwrap();
        assert!(unnamed.is_unnamed());
        let raw = to_sock_addr(&unnamed).unwrap();
        assert_eq!(raw.len() as usize, PATH_OFFSET);
        assert!(from_sock_addr(&raw).unwrap().is_unnamed());
    }

    #[test]
    fn foreign_family_is_invalid_data() {
        let raw = SockAddr::from_std(&"127.0.0.1:1".parse().unwrap());
        assert_eq!(
            from_sock_addr(&raw).unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
    }

    #[test]
    fn longest_names_fit_and_longer_ones_do_not_panic() {
        let name = [b'x'; PATH_CAPACITY - 1];
        let addr = SocketAddr::from_abstract_name(name).unwrap();
        let back = from_sock_addr(&to_sock_addr(&addr).unwrap()).unwrap();
        assert_eq!(back.as_abstract_name(), Some(&name[..]));
        // A full 108-byte path without NUL, as another program may bind it.
        let mut storage = *SockAddr::empty().storage();
        storage.ss_family = libc::AF_UNIX as libc::sa_family_t;
        sun_path_mut(&mut storage).fill(b'p');
        let raw = SockAddr::from_parts(storage, (PATH_OFFSET + PATH_CAPACITY) as libc::socklen_t);
        let _ = from_sock_addr(&raw); // an error or an address, never a panic
    }
}
