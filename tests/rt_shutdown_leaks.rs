//! Shutting down with operations in flight leaks nothing: this test re-runs
//! itself under valgrind's leak checker, on each driver, with an accept, a
//! read, a sleep, a blocking job and file reads still pending when the
//! runtime drops, and a send and a sleep dropped on another thread.
//! valgrind must report no definitely-lost block.

use std::future::Future;
use std::process::Command;
use std::time::Duration;

/// The scenario valgrind watches: start everything, then drop the runtime.
fn scenario(driver: runtime::DriverKind) {
    // valgrind (3.19) runs `io_uring_enter` as a non-blocking syscall while
    // holding its global lock, so a second worker waiting in its ring would
    // stall every other thread. On io_uring the check therefore runs one worker.
    let workers = if driver == runtime::DriverKind::Uring {
        1
    } else {
        2
    };
    let rt = runtime::Builder::new()
        .driver(driver)
        .workers(workers)
        .build()
        .unwrap();
    rt.block_on(async {
        let listener = runtime::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let client = runtime::net::TcpStream::connect(addr).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        // A read that never completes, an accept that never completes.
        drop(runtime::spawn(
            async move { server.read(vec![0u8; 4096]).await },
        ));
        drop(runtime::spawn(
            async move { listener.accept().await.map(drop) },
        ));
        drop(runtime::spawn(async {
            runtime::time::sleep(Duration::from_secs(3600)).await
        }));
        drop(runtime::spawn_on(workers - 1, || async {
            runtime::time::sleep(Duration::from_secs(3600)).await;
        }));
        let path = std::env::temp_dir().join(format!("leak-{}-{driver}", std::process::id()));
        runtime::fs::write(&path, vec![1u8; 1 << 20]).await.unwrap();
        let file = runtime::fs::File::open(&path).await.unwrap();
        for i in 0..8u64 {
            drop(runtime::spawn(file.read_at(vec![0u8; 65536], i * 65536)));
        }
        // A send the kernel holds, and a sleep, dropped on another thread:
        // their drivers take them back (the send may still be queued there
        // when the runtime drops).
        let (full, _peer) = std::os::unix::net::UnixStream::pair().unwrap();
        full.set_nonblocking(true).unwrap();
        while std::io::Write::write(&mut &full, &[7u8; 4096]).is_ok() {}
        let full = runtime::net::UnixStream::from_std(full).unwrap();
        let mut send = Box::pin(full.write(vec![9u8; 4096]));
        let mut sleep = Box::pin(runtime::time::sleep(Duration::from_secs(3600)));
        std::future::poll_fn(|cx| {
            assert!(send.as_mut().poll(cx).is_pending());
            assert!(sleep.as_mut().poll(cx).is_pending());
            std::task::Poll::Ready(())
        })
        .await;
        std::thread::spawn(move || drop((send, sleep)))
            .join()
            .unwrap();
        runtime::task::yield_now().await;
        runtime::task::yield_now().await;
        runtime::fs::remove_file(&path).await.unwrap();
        drop(client);
    });
    drop(rt);
}

#[test]
fn shutdown_with_ops_in_flight_is_leak_free_under_valgrind() {
    if let Ok(driver) = std::env::var("LEAK_CHILD_DRIVER") {
        let kind = if driver == "uring" {
            runtime::DriverKind::Uring
        } else {
            runtime::DriverKind::Epoll
        };
        scenario(kind);
        return;
    }
    if cfg!(runtime_asan) {
        // valgrind cannot run a binary built with AddressSanitizer (both
        // replace the allocator and watch every access); ASan's own leak
        // checker covers this binary in that run.
        eprintln!("skipped under AddressSanitizer: valgrind cannot run an ASan binary");
        return;
    }
    if Command::new("valgrind").arg("--version").output().is_err() {
        eprintln!("skipped: valgrind is not installed (.ci/run installs it)");
        return;
    }
    let exe = std::env::current_exe().unwrap();
    for driver in ["uring", "epoll"] {
        let out = Command::new("valgrind")
            .args([
                "--leak-check=full",
                "--errors-for-leak-kinds=definite",
                // The kernel fills buffers behind valgrind's back; only leaks matter here.
                "--undef-value-errors=no",
                "--error-exitcode=99",
            ])
            .arg(&exe)
            .args([
                "shutdown_with_ops_in_flight_is_leak_free_under_valgrind",
                "--exact",
                "--test-threads=1",
            ])
            .env("LEAK_CHILD_DRIVER", driver)
            .output()
            .unwrap();
        let report = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && !report.contains("definitely lost: ")
                || report.contains("definitely lost: 0 bytes"),
            "[{driver}] valgrind found a leak or an error (exit {:?}):\n{report}",
            out.status.code()
        );
        assert!(
            report.contains("ERROR SUMMARY: 0 errors"),
            "[{driver}] valgrind errors:\n{report}"
        );
    }
}
