//! Command-line settings: parsing, defaults and `--help`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Everything the command line decides; shared read-only by every connection.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    /// The directory served.
    pub(crate) root: PathBuf,
    /// Where to listen.
    pub(crate) addr: SocketAddr,
    /// Worker threads, each with its own `SO_REUSEPORT` listener.
    pub(crate) workers: usize,
    /// A request head must arrive whole within this time of its first byte.
    pub(crate) header_timeout: Duration,
    /// An idle keep-alive connection, and a response write that makes no
    /// progress, are closed after this long.
    pub(crate) idle_timeout: Duration,
    /// Cap on the whole time to send one response; `None`: no cap.
    pub(crate) body_timeout: Option<Duration>,
    /// After SIGINT/SIGTERM, in-flight responses get this long to finish.
    pub(crate) grace: Duration,
    /// Serve and list names starting with `.`.
    pub(crate) show_hidden: bool,
    /// One common-log-format line per response on stdout.
    pub(crate) access_log: bool,
    /// How long an open file found unchanged is served without another
    /// look at its path: a changed file is noticed within about this time.
    pub(crate) revalidate: Duration,
    /// Each worker prints its open-file table's counters when shutting down.
    pub(crate) stats: bool,
}

pub(crate) const USAGE: &str = "\
usage: file_server [DIR] [options]

Serves DIR (default: the current directory) over HTTP/1.1.

options:
  --addr ADDR              listen address [default: 127.0.0.1:8080]
  --workers N              worker threads, one listener each (SO_REUSEPORT); use the
                           number of cores to use every core [default: 1]
  --header-timeout-ms MS   a request head must arrive within MS of its first byte
                           [default: 10000] (alias: --head-timeout-ms)
  --idle-timeout-ms MS     close a keep-alive connection idle for MS, and a response
                           whose writes make no progress for MS [default: 60000]
  --body-timeout-ms MS     cap on the total time to send one response; 0: no cap
                           [default: 0]
  --grace-ms MS            on SIGINT/SIGTERM, stop accepting and give in-flight
                           responses MS to finish, then exit 0 [default: 30000]
  --show-hidden            serve and list dotfiles (.git/, .env); hidden by default
  --access-log             log each response to stdout in the common log format
  --revalidate-ms MS       serve an open file found unchanged for MS before looking at
                           its path again (one statx); a replaced, rewritten or
                           deleted file is noticed within about MS [default: 1000]
  --stats                  on shutdown, each worker prints its open-file table's
                           counters (hits, statx rechecks, opens)
  -h, --help               this text";

impl Config {
    /// Parses `std::env::args()`; `Err` carries the message to print (usage included).
    pub(crate) fn from_args() -> Result<Config, String> {
        Self::parse(std::env::args().skip(1))
    }

    fn parse(args: impl Iterator<Item = String>) -> Result<Config, String> {
        let mut c = Config {
            root: PathBuf::from("."),
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            workers: 1,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            body_timeout: None,
            grace: Duration::from_secs(30),
            show_hidden: false,
            access_log: false,
            revalidate: Duration::from_secs(1),
            stats: false,
        };
        let mut it = args;
        while let Some(a) = it.next() {
            let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
            match a.as_str() {
                "--addr" => {
                    let v = value("--addr")?;
                    c.addr = v.parse().map_err(|e| format!("--addr {v}: {e}"))?;
                }
                "--workers" => {
                    let v = value("--workers")?;
                    c.workers = v.parse().map_err(|e| format!("--workers {v}: {e}"))?;
                    if c.workers == 0 {
                        return Err("--workers must be at least 1".into());
                    }
                }
                "--header-timeout-ms" | "--head-timeout-ms" => {
                    c.header_timeout = millis(&a, &value(&a)?)?;
                }
                "--idle-timeout-ms" => c.idle_timeout = millis(&a, &value(&a)?)?,
                "--body-timeout-ms" => {
                    let d = millis(&a, &value(&a)?)?;
                    c.body_timeout = (!d.is_zero()).then_some(d);
                }
                "--grace-ms" => c.grace = millis(&a, &value(&a)?)?,
                "--show-hidden" => c.show_hidden = true,
                "--access-log" => c.access_log = true,
                "--revalidate-ms" => c.revalidate = millis(&a, &value(&a)?)?,
                "--stats" => c.stats = true,
                "-h" | "--help" => return Err(USAGE.into()),
                flag if flag.starts_with("--") => {
                    return Err(format!("unknown option {flag}\n{USAGE}"))
                }
                dir => c.root = PathBuf::from(dir),
            }
        }
        Ok(c)
    }
}

/// A duration in milliseconds from a flag's value.
fn millis(flag: &str, v: &str) -> Result<Duration, String> {
    v.parse()
        .map(Duration::from_millis)
        .map_err(|e| format!("{flag} {v}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Config, String> {
        Config::parse(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn defaults_and_flags() {
        let c = parse(&[]).unwrap();
        assert_eq!((c.workers, c.show_hidden, c.access_log), (1, false, false));
        assert_eq!(c.idle_timeout, Duration::from_secs(60));
        assert_eq!((c.revalidate, c.stats), (Duration::from_secs(1), false));
        let c = parse(&[
            "dir",
            "--idle-timeout-ms",
            "1500",
            "--head-timeout-ms",
            "300",
            "--body-timeout-ms",
            "0",
            "--show-hidden",
            "--revalidate-ms",
            "0",
            "--stats",
        ])
        .unwrap();
        assert_eq!(c.root, PathBuf::from("dir"));
        assert_eq!(c.idle_timeout, Duration::from_millis(1500));
        assert_eq!(c.header_timeout, Duration::from_millis(300));
        assert_eq!(c.body_timeout, None);
        assert!(c.show_hidden && c.stats);
        assert_eq!(c.revalidate, Duration::ZERO);
        assert!(parse(&["--workers", "0"]).is_err());
        assert!(parse(&["--idle-timeout-ms"]).is_err());
        assert!(parse(&["--bogus"]).unwrap_err().contains("usage"));
    }

    #[test]
    fn help_shows_every_timeout_default() {
        let help = parse(&["--help"]).unwrap_err();
        for want in [
            "--header-timeout-ms MS",
            "[default: 10000]",
            "--idle-timeout-ms MS",
            "[default: 60000]",
            "--body-timeout-ms MS",
            "[default: 0]",
            "--grace-ms MS",
            "[default: 30000]",
            "--workers N",
            "--show-hidden",
            "--access-log",
            "--revalidate-ms MS",
            "[default: 1000]",
            "--stats",
        ] {
            assert!(help.contains(want), "{want}");
        }
    }
}
