//! TCP failures that need a process of their own, on both drivers: sends to
//! a dead peer with `SIGPIPE` at its default action (terminate) fail with
//! an error and the process lives, and out of descriptors (`EMFILE`) accept
//! reports the error, `incoming` backs off, then recovers. Each runs this
//! test binary again as a child (`NET_TCP_CHILD=role:driver`).

mod support;

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::time::{Duration, Instant};

use futures_core::Stream;
use runtime::net::{TcpListener, TcpStream};
use support::{child_runtime, run_driver_child, tcp_pair, within};

/// The work of a child process, chosen by `NET_TCP_CHILD` (`role:driver`).
/// Without the variable (a normal test run) this test does nothing.
#[test]
fn child_process_entry() {
    let Ok(spec) = std::env::var("NET_TCP_CHILD") else {
        return;
    };
    let (role, driver) = spec.split_once(':').expect("role:driver");
    let Some(rt) = child_runtime(driver) else {
        return;
    };
    match role {
        "sigpipe" => rt.block_on(child_sigpipe()),
        "emfile" => rt.block_on(child_emfile()),
        other => panic!("unknown child role {other}"),
    }
}

/// Runs `child_process_entry` as `role` on `driver` in a new process and
/// returns its stdout, after checking it exited normally.
fn run_child(role: &str, driver: &str) -> Option<String> {
    let spec = format!("{role}:{driver}");
    run_driver_child("child_process_entry", "NET_TCP_CHILD", &spec, driver)
}

/// With `SIGPIPE` at its default (terminate), sends to a dead peer must fail
/// with `EPIPE`/`ECONNRESET` and the process must live.
async fn child_sigpipe() {
    // SAFETY: resetting a signal disposition to its default is always sound.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let mut errors = 0;
    for _ in 0..3 {
        let (client, server) = tcp_pair().await;
        server.set_linger(Some(Duration::ZERO)).unwrap();
        drop(server);
        let (client_rd, client_wr) = client.into_split();
        for step in 0..64 {
            let res = match step % 3 {
                0 => client_wr.write(vec![1u8; 4096]).await.0,
                1 => {
                    client_wr
                        .writev(vec![vec![2u8; 100], vec![3u8; 100]])
                        .await
                        .0
                }
                _ => client_wr.write_all(vec![4u8; 8192]).await.0.map(|()| 1),
            };
            if let Err(e) = res {
                assert!(
                    matches!(
                        e.kind(),
                        io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
                    ),
                    "unexpected error {e}"
                );
                errors += 1;
                if e.kind() == io::ErrorKind::BrokenPipe {
                    break;
                }
            }
        }
        drop(client_rd);
    }
    assert!(errors >= 3, "sends to dead peers kept succeeding");
    println!("CHILD-OK sigpipe errors={errors}");
}

mod sigpipe_never_kills {
    use super::*;

    #[test]
    fn uring() {
        run_child("sigpipe", "uring");
    }

    #[test]
    fn epoll() {
        run_child("sigpipe", "epoll");
    }
}

/// Sets the soft `RLIMIT_NOFILE`.
fn set_fd_limit(soft: u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid rlimit for the kernel to fill.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
    lim.rlim_cur = soft.min(lim.rlim_max);
    // SAFETY: `lim` is a valid rlimit.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) }, 0);
}

/// CPU time (user + system) of this process.
fn cpu_time() -> Duration {
    // SAFETY: all zeroes is a valid rusage; the kernel fills it.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a valid rusage for the kernel to fill.
    assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) }, 0);
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// Out of descriptors: `accept` reports EMFILE, `incoming` reports it and
/// backs off (few failed accepts a second, little CPU), then recovers.
async fn child_emfile() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // Waiting connections, made while descriptors are still available.
    let clients: Vec<_> = {
        let mut v = Vec::new();
        for _ in 0..2 {
            v.push(TcpStream::connect(addr).await.unwrap());
        }
        v
    };
    // Not one more descriptor may be opened: lower the limit to the highest
    // open one, then fill any lower holes.
    set_fd_limit(highest_fd() + 1);
    let mut fillers = Vec::new();
    while let Ok(f) = std::fs::File::open("/dev/null") {
        fillers.push(f);
    }

    let err = within("accept", listener.accept()).await.unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EMFILE), "{err}");

    let mut incoming = listener.incoming();
    let window = Duration::from_secs(1);
    let (start, cpu0) = (Instant::now(), cpu_time());
    let mut failures = 0u64;
    let deadline = runtime::time::sleep(window);
    let mut deadline = std::pin::pin!(deadline);
    loop {
        let next = std::future::poll_fn(|cx| {
            if deadline.as_mut().poll(cx).is_ready() {
                return std::task::Poll::Ready(None);
            }
            Pin::new(&mut incoming).poll_next(cx).map(Some)
        });
        match next.await {
            None => break,
            Some(Some(Err(e))) => {
                assert_eq!(e.raw_os_error(), Some(libc::EMFILE), "{e}");
                failures += 1;
            }
            Some(other) => panic!("accepted with no descriptors left: {other:?}"),
        }
    }
    let (wall, cpu) = (start.elapsed(), cpu_time() - cpu0);
    let per_sec = failures as f64 / wall.as_secs_f64();
    let cpu_share = cpu.as_secs_f64() / wall.as_secs_f64();
    println!(
        "failed accepts/s {per_sec:.1}, cpu {:.2}%",
        cpu_share * 100.0
    );
    assert!(failures >= 1, "the error was never reported");
    assert!(per_sec < 100.0, "{per_sec:.1} failed accepts a second");
    assert!(
        cpu_share < 0.05,
        "{:.1}% CPU while out of descriptors",
        cpu_share * 100.0
    );

    // Descriptors again: the stream recovers and delivers the waiting clients.
    set_fd_limit(u64::MAX);
    drop(fillers);
    for _ in 0..clients.len() {
        let stream = within("recovered", incoming.next()).await.unwrap().unwrap();
        drop(stream);
    }
    println!("CHILD-OK emfile");
}

/// The highest open descriptor number of this process.
fn highest_fd() -> u64 {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u64>().ok())
        .max()
        .unwrap_or(2)
}

mod emfile_backs_off {
    use super::*;

    #[test]
    fn uring() {
        if let Some(out) = run_child("emfile", "uring") {
            eprintln!("{out}");
        }
    }

    #[test]
    fn epoll() {
        if let Some(out) = run_child("emfile", "epoll") {
            eprintln!("{out}");
        }
    }
}
