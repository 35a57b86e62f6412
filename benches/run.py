#!/usr/bin/env python3
"""The load benchmarks, end to end: runtime (io_uring and epoll) against tokio,
nginx and hyper + tower-http, in one run, written to BENCHMARKS.md and a chart.

    python3 benches/run.py             # full run: 5 repetitions, ~15 minutes
    python3 benches/run.py --quick     # 3 short repetitions, under 3 minutes
    python3 benches/run.py --cores 8   # a bigger machine: servers on cores 0-3

What it does, in order:

1. Builds the examples in release (`cargo build --release --examples
   --features hyper,tokio-io`, which the hyper_server example needs) and
   the hyper + tower-http ServeDir peer (benches/peers/hyper_servedir, its own
   cargo project; skipped with a note if it cannot build, e.g. offline).
   Installs `wrk` and `nginx` with apt-get when missing; if that fails, HTTP
   load comes from examples/http_load.rs instead and nginx is left out.
2. TCP echo ping-pong, 1 worker, 1/100/1000 connections, 64 B and 4 KiB:
   benches/echo_load.py (servers examples/echo.rs, benches/peers/tokio_echo.rs).
3. HTTP keep-alive, `wrk -t1 -c64`: examples/http_hello.rs against
   benches/peers/tokio_http_hello.rs, and examples/file_server on a 4 KiB and
   a 1 MiB file against nginx and hyper + ServeDir (`--only file-server`: these
   rows alone). nginx runs one worker process with `sendfile on` and its
   open-file cache on (`open_file_cache_valid 1s`: see NGINX_FILE_CACHE);
   the served file is read into the page cache right before every run.
4. hyper + axum, `wrk -t1 -c64`: examples/hyper_server.rs (an axum Router
   served by hyper on runtime, 1 worker) against benches/peers/tokio_hyper_hello.rs
   (the same Router on tokio's current_thread runtime), `/` and `/json`.
5. File reads of a 1 GiB file: random 4 KiB at queue depth 1, 32 and 128 and
   sequential 128 KiB, buffered and O_DIRECT (when the file system allows it):
   examples/file_load.rs (plain, and `--fixed`: registered file and buffers,
   when it has that option) against benches/peers/tokio_file_load.rs
   (tokio::fs), monoio (benches/peers/monoio_echo's `monoio_file_load`), the
   ceiling benches/peers/bare_uring_file (io_uring with no runtime: registered
   file and buffers, READ_FIXED, queue kept full) and fio (`--ioengine=io_uring
   --fixedbufs=1 --registerfiles=1`, installed with apt-get when missing).
   The file is read into the page cache (and checked with `fincore`) right
   before each buffered run: the page cache here drops files idle for ~30 s.
6. Scaling: echo and HTTP hello with 1 and 2 (or more) server workers.
7. The axum app, 2 workers each, `wrk -t1 -c64`: examples/axum_app.rs
   (`http::serve`, `http::ServeDir`, `http::TimeoutLayer`) against the same
   app on tokio's multi_thread runtime (axum::serve, tower-http's ServeDir and
   TimeoutLayer: benches/peers/hyper_servedir's `axum_servedir`), `/` and a
   4 KiB file under `/static`.

Servers run on the first half of the cores (core 0 on a 2-core machine), load
generators on the second half, both with `taskset`. Each configuration runs
several times (3 with --quick, 5 otherwise), servers taking turns in a rotating
order; tables show medians and min–max. Server CPU is utime + stime from
/proc/PID/stat over the measured window (for the file load binaries, which are
their own server, from the child's rusage).

Loopback only; every run is bounded in time; every server is stopped on exit,
Ctrl-C and errors included. Output: BENCHMARKS.md, benches/results/chart.svg,
benches/results/latest.json. Known reasons for rows where runtime is behind
come from benches/results/why.md (written by hand after profiling).
"""

import argparse
import datetime
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "benches", "results")
CLK_TCK = os.sysconf("SC_CLK_TCK")
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
EXAMPLES = os.path.join(TARGET, "release", "examples")
PEER_TARGET = os.path.join(TARGET, "peers")
HYPER_MANIFEST = os.path.join(ROOT, "benches", "peers", "hyper_servedir", "Cargo.toml")
HYPER_BIN = os.path.join(PEER_TARGET, "release", "hyper_servedir")
AXUM_PEER_BIN = os.path.join(PEER_TARGET, "release", "axum_servedir")
# The examples' features: hyper_server needs tokio-io, axum_app tls and websocket.
EXAMPLE_FEATURES = "hyper,tokio-io,tls,websocket,client"
MONOIO_MANIFEST = os.path.join(ROOT, "benches", "peers", "monoio_echo", "Cargo.toml")
MONOIO_FILE_BIN = os.path.join(PEER_TARGET, "release", "monoio_file_load")
BIG_FILE = os.path.join(TARGET, "bench-data", "file_read-1GiB.bin")
BIG_LEN = 1 << 30

NOTES = []  # what the reader must know about this run (fallbacks, skips)
LIVE = set()  # servers still running, stopped on any exit
CHILD = [None]  # the echo_load.py subprocess, if one is running


T0 = time.monotonic()


def log(msg):
    print(f"[{time.monotonic() - T0:6.1f}s] {msg}", file=sys.stderr, flush=True)


def note(msg):
    log("note: " + msg)
    NOTES.append(msg)


def cpulist(cpus):
    return ",".join(str(c) for c in cpus)


def median(xs):
    return statistics.median(xs) if xs else float("nan")


# ---------------------------------------------------------------- set-up


def which(name):
    return shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/sbin/{name}") if os.access(p, os.X_OK)), None)


def install(packages):
    """apt-get install the packages; True if it worked."""
    if shutil.which("apt-get") is None:
        return False
    sudo = [] if os.geteuid() == 0 else (["sudo", "-n"] if shutil.which("sudo") else None)
    if sudo is None:
        return False
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    pid_before = os.path.exists("/run/nginx.pid")
    try:
        log(f"installing {' '.join(packages)} with apt-get")
        subprocess.run([*sudo, "apt-get", "update", "-q"], env=env, check=True,
                       stdout=subprocess.DEVNULL, timeout=300)
        subprocess.run([*sudo, "apt-get", "install", "-y", "-q", "--no-install-recommends",
                        *packages], env=env, check=True, stdout=subprocess.DEVNULL,
                       timeout=600)
    except (subprocess.SubprocessError, OSError) as e:
        log(f"apt-get failed: {e}")
        return False
    if "nginx" in packages and not pid_before and os.path.exists("/run/nginx.pid"):
        # Debian starts the packaged service when no policy-rc.d forbids it;
        # we only want our own foreground nginx, so stop the one we caused.
        subprocess.run([*sudo, which("nginx") or "nginx", "-s", "quit"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        note("apt-get started the nginx service on port 80; it was stopped again")
    return True


def ensure_tools(no_install):
    missing = [p for p in ("wrk", "nginx", "fio") if which(p) is None]
    if missing and not no_install:
        install(missing)
    tools = {p: which(p) for p in ("wrk", "nginx", "fio")}
    if tools["fio"] is None:
        note("fio is not installed and could not be installed: no fio column in the file rows")
    if tools["wrk"] is None:
        note("wrk is not installed and could not be installed: HTTP load comes from "
             "the project's own generator, examples/http_load.rs (64 keep-alive "
             "connections, one request in flight each, like wrk -c64)")
    if tools["nginx"] is None:
        note("nginx is not installed and could not be installed: no nginx column")
    if shutil.which("taskset") is None:
        sys.exit("taskset (util-linux) is needed to pin servers and load generators")
    return tools


def build(no_build):
    if no_build:
        return os.access(HYPER_BIN, os.X_OK)
    log(f"building: cargo build --release --examples --features {EXAMPLE_FEATURES}")
    subprocess.run(["cargo", "build", "--release", "--examples", "--features", EXAMPLE_FEATURES],
                   cwd=ROOT, check=True)
    log("building the hyper + tower-http ServeDir peer (its own cargo project)")
    try:
        subprocess.run(["cargo", "build", "--release", "--manifest-path", HYPER_MANIFEST,
                        "--target-dir", PEER_TARGET], cwd=ROOT, check=True, timeout=900)
        return True
    except (subprocess.SubprocessError, OSError) as e:
        note(f"the hyper + ServeDir peer did not build ({e}); its column is left out")
        return False
    finally:
        build_monoio()


def build_monoio():
    """The monoio peers (their own cargo project); a note if they do not build."""
    log("building the monoio peers (their own cargo project)")
    try:
        subprocess.run(["cargo", "build", "--release", "--manifest-path", MONOIO_MANIFEST,
                        "--target-dir", PEER_TARGET], cwd=ROOT, check=True, timeout=900)
    except (subprocess.SubprocessError, OSError) as e:
        note(f"the monoio peers did not build ({e}); the monoio file column is left out")


def machine(args):
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break

    def out(cmd):
        try:
            return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                                  timeout=30).stdout.strip()
        except (subprocess.SubprocessError, OSError):
            return ""

    commit = out(["git", "rev-parse", "--short", "HEAD"]) or "unknown"
    # Changes to the outputs and to Markdown do not change what was measured.
    dirty = [line for line in out(["git", "status", "--porcelain", "--untracked-files=no"])
             .splitlines() if not line.endswith(".md") and "benches/results/" not in line]
    mem_kib = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "kernel": platform.release(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": f"{mem_kib / (1 << 20):.0f} GiB",
        "commit": commit + (" (with uncommitted changes)" if dirty else ""),
        "command": "python3 benches/run.py" + "".join(f" {a}" for a in sys.argv[1:]),
        "rustc": out(["rustc", "--version"]),
        "wrk": out([which("wrk"), "-v"]).splitlines()[0] if which("wrk") else "",
        "nginx": subprocess.run([which("nginx"), "-v"], capture_output=True, text=True)
        .stderr.strip() if which("nginx") else "",
    }


# ---------------------------------------------------------------- servers


def busy_before(what, secs):
    """Notes how busy the machine is (other people's work) just before a suite."""
    def sample():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return sum(v) - v[3] - v[4], sum(v)  # busy (all but idle, iowait), total
    b0, t0 = sample()
    time.sleep(secs)
    b1, t1 = sample()
    cores = (t1 - t0) / (CLK_TCK * secs)
    busy = (b1 - b0) / CLK_TCK / secs
    if busy > 0.1:
        note(f"before {what}, other processes kept {busy:.2f} of {cores:.0f} cores busy; "
             "its rows may be disturbed")
    return busy


def cpu_seconds(pid):
    """utime + stime of the whole process (all threads), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A server pinned to the server cores; `addr` once it accepts connections."""

    def __init__(self, label, cmd, cpus, env=None, addr=None):
        self.label = label
        self.out = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(
            ["taskset", "-c", cpulist(cpus), *cmd], env={**os.environ, **(env or {})},
            stdout=self.out, stderr=subprocess.STDOUT, start_new_session=True)
        LIVE.add(self)
        self.addr = addr
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and self.proc.poll() is None:
            if self.addr is None:
                self.out.seek(0)
                m = re.search(r"(127\.0\.0\.1:\d+)", self.out.read())
                if m:
                    self.addr = m.group(1)
            if self.addr is not None and self.accepts():
                return
            time.sleep(0.05)
        self.out.seek(0)
        output = self.out.read()[-2000:]
        self.stop()
        raise RuntimeError(f"{label} did not start: {output}")

    def accepts(self):
        host, port = self.addr.rsplit(":", 1)
        try:
            with socket.create_connection((host, int(port)), timeout=1):
                return True
        except OSError:
            return False

    @property
    def pid(self):
        return self.proc.pid  # taskset execs the server: same pid

    def stop(self):
        LIVE.discard(self)
        if self.proc.poll() is None:
            try:
                # SIGTERM, not SIGINT: a shell's background job ignores SIGINT.
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
            except ProcessLookupError:
                pass


def stop_all():
    for s in list(LIVE):
        s.stop()
    child = CHILD[0]
    if child is not None and child.poll() is None:
        child.send_signal(signal.SIGINT)  # echo_load.py stops its own servers
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()


# The nginx peer of the file-server rows, as the project's file-server issues
# ask: one worker process (no master), `sendfile on`, and its open-file cache
# on, so nginx keeps descriptors and metadata of hot files instead of opening
# and stat-ing the file on every request. `open_file_cache_valid 1s` is how
# often nginx revalidates a cached entry (one stat), the same period as
# examples/file_server's `--revalidate-ms` default; `open_file_cache_errors`
# caches failed lookups too; `min_uses 1` caches a file from its first use.
NGINX_FILE_CACHE = """\
    open_file_cache max=1000 inactive=60s;
    open_file_cache_valid 1s;
    open_file_cache_min_uses 1;
    open_file_cache_errors on;"""


def nginx_server(tools, www, tmp, cpus):
    prefix = os.path.join(tmp, "nginx")
    os.makedirs(os.path.join(prefix, "logs"), exist_ok=True)
    port = free_port()
    conf = os.path.join(prefix, "nginx.conf")
    with open(conf, "w") as f:
        f.write(f"""# written by benches/run.py: one foreground process, like our server
daemon off;
master_process off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on;
{NGINX_FILE_CACHE}
    keepalive_requests 10000000;
    default_type application/octet-stream;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {www};
    }}
}}
""")
    return Server("nginx", [tools["nginx"], "-p", prefix, "-c", conf], cpus,
                  addr=f"127.0.0.1:{port}")


# ---------------------------------------------------------------- HTTP load

WRK_LAT = re.compile(r"^\s+(50|99)(?:\.000)?%\s+([\d.]+)(us|ms|s)\s*$", re.M)
UNIT = {"us": 1, "ms": 1000, "s": 1_000_000}


def http_load(tools, addr, path, secs, cpus):
    """One bounded load run: (req/s, p50 µs, p99 µs, requests)."""
    return http_load_timed(tools, addr, path, secs, cpus)[:4]


def http_load_timed(tools, addr, path, secs, cpus):
    """`http_load`, plus the CPU seconds the load generator used."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    res = http_load_run(tools, addr, path, secs, cpus)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return (*res, cpu)


def http_load_run(tools, addr, path, secs, cpus):
    threads = max(1, len(cpus))
    if tools["wrk"]:
        cmd = ["taskset", "-c", cpulist(cpus), tools["wrk"], f"-t{threads}", "-c64",
               f"-d{secs}s", "--latency", f"http://{addr}{path}"]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=secs + 60)
        text = out.stdout
        m = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m)", text)
        rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
        if out.returncode != 0 or not m or not rps:
            raise RuntimeError(f"wrk failed: {text}{out.stderr}")
        if "Non-2xx" in text or "Socket errors" in text:
            log(f"wrk reported errors against {addr}{path}: {text}")
        lat = {p: float(v) * UNIT[u] for p, v, u in WRK_LAT.findall(text)}
        return float(rps[1]), lat.get("50", 0), lat.get("99", 0), int(m[1])
    cmd = ["taskset", "-c", cpulist(cpus), os.path.join(EXAMPLES, "http_load"),
           "--addr", addr, "--path", path, "-c", "64", "-d", str(secs),
           "--workers", str(threads)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=secs + 60)
    m = re.search(r"(\d+) requests in .*: ([\d.]+) requests/s, p50 (\d+) µs, p99 (\d+) µs",
                  out.stdout)
    if out.returncode != 0 or not m:
        raise RuntimeError(f"http_load failed: {out.stdout}{out.stderr}")
    return float(m[2]), float(m[3]), float(m[4]), int(m[1])


def measure_http(tools, server, path, secs, cpus):
    before = cpu_seconds(server.pid)
    rps, p50, p99, requests, load_cpu = http_load_timed(tools, server.addr, path, secs, cpus)
    cpu = cpu_seconds(server.pid) - before
    # On loopback the core that transmits a segment also runs its receive
    # processing, billed to whoever runs there: the split of work between the
    # server and the load generator moves with who transmits, their sum less so.
    return {"rps": rps, "p50": p50, "p99": p99, "requests": requests, "cpu_s": cpu,
            "load_cpu_s": load_cpu,
            "per_cpu": requests / cpu if cpu > 0 else float("nan")}


def http_suite(args, tools, have_hyper, www, tmp, workers=1, hello=True):
    """HTTP hello (unless `hello` is false) and, with one worker, the file
    server: {workload: {label: [runs]}}."""
    ex = lambda name: os.path.join(EXAMPLES, name)
    w = ["--workers", str(workers)]
    groups = []  # (workload ids and paths, servers)
    if hello:
        servers = [
            ("runtime/uring", [ex("http_hello"), "--addr", "127.0.0.1:0", *w], {"RUNTIME_DRIVER": "uring"}),
            ("runtime/epoll", [ex("http_hello"), "--addr", "127.0.0.1:0", *w], {"RUNTIME_DRIVER": "epoll"}),
            ("tokio", [ex("tokio_http_hello"), "--addr", "127.0.0.1:0", *w], {}),
        ]
        groups.append(([(f"http-hello-w{workers}", "/")], servers))
    if workers == 1:
        files = [
            ("runtime/uring", [ex("file_server"), www, "--addr", "127.0.0.1:0", *w], {"RUNTIME_DRIVER": "uring"}),
            ("runtime/epoll", [ex("file_server"), www, "--addr", "127.0.0.1:0", *w], {"RUNTIME_DRIVER": "epoll"}),
        ]
        if have_hyper:
            files.append(("hyper+ServeDir", [HYPER_BIN, www, "--addr", "127.0.0.1:0"], {}))
        if tools["nginx"]:
            files.append(("nginx", None, {}))
        groups.append(([("http-file-4k", "/4k.bin"), ("http-file-1m", "/1m.bin")], files))
    return run_http_groups(args, tools, groups, www, tmp)


def hyper_suite(args, tools, www, tmp):
    """hyper + axum on runtime (examples/hyper_server.rs) against the same Router on
    tokio's current_thread runtime, 1 worker: {workload: {label: [runs]}}."""
    ex = lambda name: os.path.join(EXAMPLES, name)
    w = ["--workers", "1"]
    servers = [
        ("runtime/uring", [ex("hyper_server"), "--addr", "127.0.0.1:0", *w], {"RUNTIME_DRIVER": "uring"}),
        ("runtime/epoll", [ex("hyper_server"), "--addr", "127.0.0.1:0", *w], {"RUNTIME_DRIVER": "epoll"}),
        ("tokio", [ex("tokio_hyper_hello"), "--addr", "127.0.0.1:0", *w], {}),
    ]
    groups = [([("hyper-hello", "/"), ("hyper-json", "/json")], servers)]
    return run_http_groups(args, tools, groups, www, tmp)


def axum_suite(args, tools, www, tmp):
    """The axum app on runtime (examples/axum_app.rs, `http::serve` on 2 workers)
    against the same app on tokio's multi_thread runtime with 2 workers
    (axum::serve, tower-http's ServeDir and TimeoutLayer): {workload: {label: [runs]}}."""
    if not os.access(AXUM_PEER_BIN, os.X_OK):
        note("the axum + tower-http peer did not build; the axum rows are left out")
        return {}
    ex = lambda name: os.path.join(EXAMPLES, name)
    app = [ex("axum_app"), "--addr", "127.0.0.1:0", "--workers", "2", "--static", www]
    servers = [
        ("runtime/uring", app, {"RUNTIME_DRIVER": "uring"}),
        ("runtime/epoll", app, {"RUNTIME_DRIVER": "epoll"}),
        ("tokio", [AXUM_PEER_BIN, www, "--addr", "127.0.0.1:0", "--workers", "2"], {}),
    ]
    groups = [([("axum-hello", "/"), ("axum-static-4k", "/static/4k.bin")], servers)]
    return run_http_groups(args, tools, groups, www, tmp)


def run_http_groups(args, tools, groups, www, tmp):
    """Measures each group's servers on each of its workloads, in rotating order."""
    scpu, ccpu = args.server_cpus, args.client_cpus
    results = {}
    for workloads, servers in groups:
        started = {}
        try:
            for label, cmd, env in servers:
                if cmd is None:
                    started[label] = nginx_server(tools, www, tmp, scpu)
                else:
                    started[label] = Server(label, cmd, scpu, env)
            labels = list(started)
            # Warm-up: page in code, grow buffers (--quick: once per server).
            for wid, path in (workloads[:1] if args.quick else workloads):
                for label in labels:
                    http_load(tools, started[label].addr, path, 1, ccpu)
            for wid, _ in workloads:
                results[wid] = {label: [] for label in labels}
            for rnd in range(args.reps):
                for wid, path in workloads:
                    order = labels[rnd % len(labels):] + labels[:rnd % len(labels)]
                    for label in order:
                        if wid.startswith(("http-file-", "axum-static-")):
                            # Served files idle for ~30 s leave the page cache here:
                            # every server gets them resident, read right before its run.
                            warm(os.path.join(www, os.path.basename(path)))
                        r = measure_http(tools, started[label], path, args.net_secs, ccpu)
                        results[wid][label].append(r)
                        log(f"{wid} round {rnd + 1}/{args.reps} {label:15} {r['rps']:9.0f} req/s "
                            f"p99 {r['p99']:7.0f} µs  {r['per_cpu']:9.0f} req/CPU-s")
        finally:
            for s in started.values():
                s.stop()
    return results


# ---------------------------------------------------------------- echo


def echo_suite(args, workers, conns, sizes):
    """benches/echo_load.py for these configurations: {workload: {label: [runs]}}."""
    out = os.path.join(args.tmp, f"echo-w{workers}.json")
    cmd = [sys.executable, os.path.join(ROOT, "benches", "echo_load.py"), "--no-build",
           "--rounds", str(args.reps), "--duration", str(args.net_secs),
           "--conns", ",".join(map(str, conns)), "--sizes", ",".join(map(str, sizes)),
           "--json", out, "--workers", str(workers),
           "--server-cpus", cpulist(args.server_cpus),
           "--client-cpus", cpulist(args.client_cpus),
           "--client-workers", str(len(args.client_cpus))]
    log("running: " + " ".join(cmd[1:]))
    budget = args.reps * len(conns) * len(sizes) * 3 * (args.net_secs + 5) + 120
    CHILD[0] = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL)
    try:
        rc = CHILD[0].wait(timeout=budget)
    finally:
        if CHILD[0].poll() is None:
            stop_all()
        CHILD[0] = None
    if rc != 0:
        raise RuntimeError(f"echo_load.py failed with status {rc}")
    with open(out) as f:
        raw = json.load(f)
    labels = {"uring": "runtime/uring", "epoll": "runtime/epoll", "tokio": "tokio"}
    results = {}
    for c in conns:
        for s in sizes:
            runs = raw[f"{c}x{s}"]
            wid = f"echo-c{c}-{'4k' if s == 4096 else s}-w{workers}"
            results[wid] = {}
            for name, rs in runs.items():
                results[wid][labels.get(name, name)] = [
                    {"rps": r["rps"], "p50": r["p50"], "p99": r["p99"],
                     "per_cpu": r["per_cpu"]} for r in rs]
    return results


# ---------------------------------------------------------------- file I/O


def make_big_file():
    if os.path.exists(BIG_FILE) and os.path.getsize(BIG_FILE) == BIG_LEN:
        return
    log(f"writing {BIG_FILE} (1 GiB)")
    os.makedirs(os.path.dirname(BIG_FILE), exist_ok=True)
    tmp = BIG_FILE + ".tmp"
    with open(tmp, "wb") as f:
        chunk = os.urandom(8 << 20)
        for i in range(BIG_LEN // len(chunk)):
            # Different bytes per chunk, so nothing dedups or compresses away.
            f.write(chunk[i % 64:] + chunk[:i % 64])
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, BIG_FILE)


def direct_allowed(path):
    """Whether this file system takes O_DIRECT reads of 4 KiB into aligned memory."""
    import mmap
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
    except OSError:
        return False
    try:
        buf = mmap.mmap(-1, 4096)  # page-aligned
        return os.preadv(fd, [buf], 0) == 4096
    except OSError:
        return False
    finally:
        os.close(fd)


def resident(path):
    """The share of the file in the page cache, from `fincore`; None without it."""
    if shutil.which("fincore"):
        out = subprocess.run(["fincore", "--bytes", "--noheadings", "--output", "RES,SIZE",
                              path], capture_output=True, text=True).stdout.split()
        if len(out) >= 2 and int(out[1]) > 0:
            return int(out[0]) / int(out[1])
    return None


def warm(path):
    """Reads the file into the page cache unless `fincore` shows it all there
    already; returns the resident share afterwards."""
    if resident(path) == 1.0:
        return 1.0
    buf = bytearray(8 << 20)
    with open(path, "rb", buffering=0) as f:
        while f.readinto(buf):
            pass
    return resident(path)


FILE_LINE = re.compile(r"([\d.]+)s: (\d+) IOPS, ([\d.]+) MiB/s, p50 ([\d.]+) µs, p99 ([\d.]+) µs")


def run_file_load(cmd, env, cpus, timeout):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(["taskset", "-c", cpulist(cpus), *cmd], env={**os.environ, **env},
                         capture_output=True, text=True, timeout=timeout)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    m = FILE_LINE.search(out.stdout)
    if out.returncode != 0 or not m:
        raise RuntimeError(f"{cmd[0]} failed: {out.stdout}{out.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    secs, iops = float(m[1]), float(m[2])
    ops = iops * secs
    return {"rps": iops, "mib_s": float(m[3]), "p50": float(m[4]), "p99": float(m[5]),
            "cpu_s": cpu, "per_cpu": ops / cpu if cpu > 0 else float("nan")}


def run_fio(fio, wid_cfg, path, secs, cpus, timeout):
    """fio on io_uring with registered buffers and file: the same workload as
    file_load (random or sequential reads of `bs` at `depth`, buffered or
    O_DIRECT), its IOPS and completion latency in file_load's terms.
    `--iodepth_batch_submit=depth` submits every read a completion round
    freed in one io_uring_enter, as the bare loop does (fio's default of one
    submission at a time measures 0.75x that here)."""
    mode, bs, depth, direct = wid_cfg
    cmd = ["taskset", "-c", cpulist(cpus), fio, "--name=file_read", f"--filename={path}",
           f"--rw={'randread' if mode == 'rand' else 'read'}", f"--bs={bs}",
           f"--iodepth={depth}", f"--iodepth_batch_submit={depth}",
           "--iodepth_batch_complete_min=1", "--ioengine=io_uring", "--fixedbufs=1",
           "--registerfiles=1", f"--direct={1 if direct else 0}", "--invalidate=0",
           "--norandommap", "--randrepeat=0", "--time_based",
           f"--runtime={max(1, int(secs * 1000))}ms", "--output-format=json"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        job = json.loads(out.stdout[out.stdout.index("{"):])["jobs"][0]["read"]
    except (ValueError, KeyError, IndexError):
        raise RuntimeError(f"fio failed: {out.stdout}{out.stderr}")
    if out.returncode != 0 or not job.get("total_ios"):
        raise RuntimeError(f"fio failed: {out.stdout}{out.stderr}")
    pct = job.get("clat_ns", {}).get("percentile", {})
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"rps": job["iops"], "mib_s": job["bw_bytes"] / (1 << 20),
            "p50": pct.get("50.000000", 0) / 1000, "p99": pct.get("99.000000", 0) / 1000,
            "cpu_s": cpu, "per_cpu": job["total_ios"] / cpu if cpu > 0 else float("nan")}


def has_fixed_flag(binary):
    """Whether examples/file_load takes `--fixed` (registered file and buffers)."""
    try:
        out = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=30)
        return "--fixed" in out.stdout
    except (subprocess.SubprocessError, OSError):
        return False


def file_suite(args, tools):
    make_big_file()
    direct = direct_allowed(BIG_FILE)
    if not direct:
        note("this file system refuses O_DIRECT: the O_DIRECT rows are left out")
    configs = [("rand", 4096, 1), ("rand", 4096, 32), ("rand", 4096, 128), ("seq", 131072, 1)]
    ex = lambda name: os.path.join(EXAMPLES, name)
    fixed = has_fixed_flag(ex("file_load"))
    if not fixed:
        note("examples/file_load has no --fixed yet: no runtime --fixed column")
    monoio = os.access(MONOIO_FILE_BIN, os.X_OK)
    fio = tools.get("fio")
    only_rows = set(args.file_rows.split(",")) if args.file_rows else None
    results, residency = {}, []
    for is_direct in ([False, True] if direct else [False]):
        for mode, bs, depth in configs:
            wid = f"file-{mode}-{'4k' if bs == 4096 else '128k'}-qd{depth}" + (
                "-direct" if is_direct else "")
            if only_rows is not None and wid not in only_rows:
                continue
            common = [BIG_FILE, "--mode", mode, "--bs", str(bs), "--depth", str(depth),
                      "--duration", str(args.file_secs)] + (["--direct"] if is_direct else [])
            # tokio::fs::File reads into its own unaligned Vec, which O_DIRECT
            # refuses (EINVAL): there the peer is spawn_blocking(pread).
            tokio_api = "pread" if is_direct else "fs"
            runners = [("runtime/uring", [ex("file_load"), *common], {"RUNTIME_DRIVER": "uring"})]
            if fixed:
                runners.append(("runtime/uring --fixed", [ex("file_load"), *common, "--fixed"],
                                {"RUNTIME_DRIVER": "uring"}))
            runners += [
                ("runtime/epoll", [ex("file_load"), *common], {"RUNTIME_DRIVER": "epoll"}),
                ("bare io_uring", [ex("bare_uring_file"), *common], {}),
            ]
            if monoio:
                runners.append(("monoio", [MONOIO_FILE_BIN, *common], {}))
            runners.append(("tokio", [ex("tokio_file_load"), *common, "--api", tokio_api], {}))
            if fio:
                runners.append(("fio", None, (mode, bs, depth, is_direct)))
            labels = [r[0] for r in runners]
            results[wid] = {label: [] for label in labels}
            n = len(runners)
            for rnd in range(args.reps):
                order = runners[rnd % n:] + runners[:rnd % n]
                for label, cmd, env in order:
                    if not is_direct:
                        res = warm(BIG_FILE)
                        if res is not None:
                            residency.append(res)
                    if cmd is None:
                        r = run_fio(fio, env, BIG_FILE, args.file_secs, args.server_cpus,
                                    args.file_secs + 60)
                    else:
                        r = run_file_load(cmd, env, args.server_cpus, args.file_secs + 60)
                    results[wid][label].append(r)
                    log(f"{wid} round {rnd + 1}/{args.reps} {label:14} {r['rps']:9.0f} IOPS "
                        f"{r['mib_s']:8.0f} MiB/s p99 {r['p99']:8.1f} µs")
    if residency:
        note(f"page cache before each buffered file run (fincore): {100 * min(residency):.1f}% "
             f"to {100 * max(residency):.1f}% of the 1 GiB file resident")
    return results


# ---------------------------------------------------------------- report

TITLES = {
    "http-hello": "HTTP hello",
    "http-file-4k": "file server, 4 KiB file",
    "http-file-1m": "file server, 1 MiB file",
    "hyper-hello": "hyper + axum hello",
    "hyper-json": "hyper + axum /json",
    "axum-hello": "axum app hello, 2 workers",
    "axum-static-4k": "axum app, 4 KiB file through ServeDir, 2 workers",
}


def title(wid):
    m = re.match(r"echo-c(\d+)-(\w+)-w(\d+)$", wid)
    if m:
        size = "4 KiB" if m[2] == "4k" else f"{m[2]} B"
        return f"echo {m[1]} conn × {size}" + (f", {m[3]} workers" if m[3] != "1" else "")
    m = re.match(r"http-hello-w(\d+)$", wid)
    if m:
        return "HTTP hello" + (f", {m[1]} workers" if m[1] != "1" else "")
    m = re.match(r"file-(rand|seq)-(4k|128k)-qd(\d+)(-direct)?$", wid)
    if m:
        kind = f"random 4 KiB, QD {m[3]}" if m[1] == "rand" else "sequential 128 KiB"
        return kind + (", O_DIRECT" if m[4] else "")
    return TITLES.get(wid, wid)


def primary(wid):
    """The figure that matters: IOPS for file reads, requests per server-CPU-s otherwise."""
    return "rps" if wid.startswith("file-") else "per_cpu"


RUNTIME_LABELS = ("runtime/uring", "runtime/uring --fixed", "runtime/epoll")


def references(wid, labels):
    if wid.startswith("http-file"):
        return [r for r in ("hyper+ServeDir", "nginx") if r in labels]
    if wid.startswith("file-"):
        # The ceiling (no runtime), the best Rust runtime we know of, the
        # usual choice, and fio with the same registered settings.
        return [r for r in ("bare io_uring", "monoio", "tokio", "fio") if r in labels]
    return ["tokio"] if "tokio" in labels else []


def ratio(results, wid, label, ref, key):
    """Median over rounds of label ÷ ref measured in the same round, minutes
    apart at most: pairing cancels slow drifts of the machine's speed (other
    tenants, the host), which a ratio of medians would not."""
    runs, refs = results[wid][label], results[wid][ref]
    if len(runs) == len(refs) and runs:
        return median([a[key] / b[key] for a, b in zip(runs, refs) if b[key]])
    a = median([r[key] for r in runs])
    b = median([r[key] for r in refs])
    return a / b if b else float("nan")


def spread(runs, key):
    vals = [r[key] for r in runs]
    m = median(vals)
    return (max(vals) - min(vals)) / m if m else 0.0


def fmt_num(x):
    if x != x:
        return "–"
    if x >= 10_000_000:
        return f"{x / 1e6:.1f}M"
    if x >= 100_000:
        return f"{x / 1e3:.0f}k"
    if x >= 10_000:
        return f"{x / 1e3:.1f}k"
    return f"{x:.0f}"


def fmt_lat(us):
    if us >= 10_000:
        return f"{us / 1000:.1f} ms"
    if us >= 100:
        return f"{us:.0f} µs"
    return f"{us:.1f} µs"


def table(results, wids, unit):
    refs_all = []
    for wid in wids:
        for r in references(wid, list(results[wid])):
            if r not in refs_all:
                refs_all.append(r)
    head = ["workload", "server", f"{unit} median (min–max)", "p50", "p99",
            "CPU s / M req" if unit == "req/s" else "CPU s / M reads"]
    if unit == "IOPS":
        head.insert(3, "MiB/s")
    with_load = any("load_cpu_s" in r for wid in wids for runs in results[wid].values()
                    for r in runs)
    if with_load:
        head.append("+ load generator")
    for ref in refs_all:
        head.append(f"× {ref}")
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * len(head)) + "|"]
    for wid in wids:
        labels = list(results[wid])
        refs = references(wid, labels)
        for i, label in enumerate(labels):
            runs = results[wid][label]
            rps = [r["rps"] for r in runs]
            per = median([r["per_cpu"] for r in runs])
            row = [title(wid) if i == 0 else "", label,
                   f"{fmt_num(median(rps))} ({fmt_num(min(rps))}–{fmt_num(max(rps))})",
                   fmt_lat(median([r["p50"] for r in runs])),
                   fmt_lat(median([r["p99"] for r in runs])),
                   f"{1e6 / per:.2f}" if per == per and per > 0 else "–"]
            if unit == "IOPS":
                row.insert(3, f"{median([r['mib_s'] for r in runs]):.0f}")
            if with_load:
                row.append(total_cpu_per_m(runs))
            for ref in refs_all:
                if (ref in refs and label != ref and not label.startswith(("nginx", "hyper"))
                        and (not wid.startswith("file-") or label in RUNTIME_LABELS)):
                    rr = ratio(results, wid, label, ref, "rps")
                    rc = ratio(results, wid, label, ref, "per_cpu")
                    row.append(f"{rr:.2f} / **{rc:.2f}**" if primary(wid) == "per_cpu"
                               else f"**{rr:.2f}** / {rc:.2f}")
                else:
                    row.append("")
            lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def total_cpu_per_m(runs):
    """Server plus load-generator CPU seconds per million requests (median)."""
    if not all("load_cpu_s" in r for r in runs):
        return "–"
    per = median([(r["cpu_s"] + r["load_cpu_s"]) / r["requests"] * 1e6
                  for r in runs if r["requests"]])
    return f"{per:.2f}"


def scaling_table(results, pairs):
    head = ["workload", "server", "req/s, 1 worker", "req/s, N workers", "speed-up",
            "req per CPU-s, 1 → N", "× tokio at N (req/s / per CPU-s)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * len(head)) + "|"]
    for one, many, n in pairs:
        for i, label in enumerate(results[many]):
            r1 = median([r["rps"] for r in results[one][label]])
            rn = median([r["rps"] for r in results[many][label]])
            p1 = median([r["per_cpu"] for r in results[one][label]])
            pn = median([r["per_cpu"] for r in results[many][label]])
            rat = ""
            if label != "tokio" and "tokio" in results[many]:
                rat = (f"{ratio(results, many, label, 'tokio', 'rps'):.2f} / "
                       f"**{ratio(results, many, label, 'tokio', 'per_cpu'):.2f}**")
            lines.append("| " + " | ".join([
                (title(one).split(",")[0] + f", 1 → {n} workers") if i == 0 else "", label,
                fmt_num(r1), fmt_num(rn), f"{rn / r1:.2f}×", f"{fmt_num(p1)} → {fmt_num(pn)}",
                rat]) + " |")
    return "\n".join(lines)


def summary_rows(results, order):
    """(workload, series, ratio) for the chart and the summary table."""
    rows = []
    for wid in order:
        if wid not in results:
            continue
        labels = list(results[wid])
        for ref in references(wid, labels):
            for label in RUNTIME_LABELS:
                if label in labels:
                    rows.append((wid, f"{label} ÷ {ref}",
                                 ratio(results, wid, label, ref, primary(wid))))
    return rows


def series_order(rows):
    """Series in the order they first appear: uring before epoll, tokio first."""
    out = []
    for _, s, _ in rows:
        if s not in out:
            out.append(s)
    return sorted(out, key=lambda s: ("nginx" in s, "ServeDir" in s, out.index(s)))


def chart_svg(rows, wids):
    """Grouped bars of the ratios, log scale, hand-written SVG."""
    import math
    series = series_order(rows)
    colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]
    color = {s: colors[i % len(colors)] for i, s in enumerate(series)}
    vals = [v for _, _, v in rows if v == v and v > 0]
    lo = 2.0 ** math.floor(math.log2(min(vals + [0.5])))
    hi = 2.0 ** math.ceil(math.log2(max(vals + [2.0])))
    groups = [w for w in wids if any(r[0] == w for r in rows)]
    bar = 11
    gap = 16
    widths = {w: bar * sum(1 for r in rows if r[0] == w) for w in groups}
    # Legend: as many entries per line as fit; about 6.5 px per character.
    left, plot_h, bottom = 130, 300, 170
    width = left + sum(widths[w] + gap for w in groups) + 20
    entry_w = [int(6.5 * len(s)) + 34 for s in series]
    legend, line, lx = [], 0, left
    for s, ew in zip(series, entry_w):
        if lx + ew > width - 10 and lx > left:
            line, lx = line + 1, left
        legend.append((s, lx, 58 + 16 * line))
        lx += ew
    top = 58 + 16 * (line + 1) + 10
    height = top + plot_h + bottom
    y = lambda v: top + plot_h * (1 - (math.log2(v) - math.log2(lo)) /
                                  (math.log2(hi) - math.log2(lo)))
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           '<text x="10" y="20" font-size="14" font-weight="bold">runtime ÷ peer, medians '
           '(above 1×: runtime ahead)</text>',
           '<text x="10" y="36">IOPS for file reads; requests per server-CPU-second for '
           'network workloads. Measured in one run by benches/run.py.</text>']
    v = lo
    while v <= hi * 1.001:
        yy = y(v)
        out.append(f'<line x1="{left}" x2="{width - 10}" y1="{yy:.1f}" y2="{yy:.1f}" '
                   f'stroke="{"#000" if v == 1 else "#ddd"}" '
                   f'stroke-width="{1.5 if v == 1 else 1}"/>')
        label = f"{v:g}×" if v >= 1 else f"1/{1 / v:g}×"
        out.append(f'<text x="{left - 6}" y="{yy + 4:.1f}" text-anchor="end">{label}</text>')
        v *= 2
    x = left + gap / 2
    for w in groups:
        for _, s, val in [r for r in rows if r[0] == w]:
            if val == val and val > 0:
                y0, y1 = y(1), y(val)
                out.append(f'<rect x="{x:.1f}" y="{min(y0, y1):.1f}" width="{bar - 1}" '
                           f'height="{abs(y1 - y0):.1f}" fill="{color[s]}">'
                           f'<title>{title(w)}: {s} = {val:.2f}</title></rect>')
            x += bar
        cx = x - widths[w] / 2
        out.append(f'<text transform="translate({cx:.1f},{top + plot_h + 8}) rotate(-45)" '
                   f'text-anchor="end">{title(w)}</text>')
        x += gap
    for s, lx, ly in legend:
        out.append(f'<rect x="{lx}" y="{ly - 9}" width="10" height="10" fill="{color[s]}"/>')
        out.append(f'<text x="{lx + 14}" y="{ly}">{s}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def reasons():
    """benches/results/why.md: `## PATTERN` sections written after profiling,
    PATTERN a regular expression for the workload ids it explains (`echo-.*`);
    `## general` is printed as profiling notes."""
    path = os.path.join(RESULTS, "why.md")
    found = {}
    if os.path.exists(path):
        with open(path) as f:
            parts = re.split(r"^## +(\S+)\s*$", f.read(), flags=re.M)
        for i in range(1, len(parts) - 1, 2):
            found[parts[i]] = parts[i + 1].strip()
    return found


def reason_for(why, wid):
    for pattern in why:
        if pattern != "general" and re.fullmatch(pattern, wid):
            return pattern
    return None


SETTINGS = ("reps", "net_secs", "file_secs", "server_cpus", "client_cpus")


def write_report(args, info, results, order):
    rows = summary_rows(results, order)
    # With --out elsewhere, the chart and raw results go beside it, so a trial
    # run never overwrites the committed ones.
    default_out = os.path.abspath(args.out) == os.path.join(ROOT, "BENCHMARKS.md")
    results_dir = RESULTS if default_out else os.path.dirname(os.path.abspath(args.out))
    os.makedirs(results_dir, exist_ok=True)
    chart = os.path.join(results_dir, "chart.svg")
    with open(chart, "w") as f:
        f.write(chart_svg(rows, order))
    with open(os.path.join(results_dir, "latest.json"), "w") as f:
        json.dump({"machine": info, "notes": NOTES, "order": order,
                   "settings": {k: getattr(args, k) for k in SETTINGS},
                   "results": results}, f, indent=1)

    md = ["# Benchmarks", "",
          "Generated by `benches/run.py`; do not edit by hand (reasons for the rows where "
          "`runtime` is behind come from `benches/results/why.md`).", "",
          "| | |", "|---|---|",
          f"| command | `{info['command']}` |",
          f"| date | {info['date']} |",
          f"| commit | {info['commit']} |",
          f"| kernel | {info['kernel']} |",
          f"| CPU | {info['cpu']}, {info['cores']} cores, {info['memory']} RAM |",
          f"| pinning | servers on cores {cpulist(args.server_cpus)}, load generators on "
          f"cores {cpulist(args.client_cpus)} (`taskset`) |",
          f"| repetitions | {args.reps} per row, servers in rotating order; network runs "
          f"{args.net_secs} s, file runs {args.file_secs} s |",
          f"| tools | {info['rustc']}; {info['wrk'] or 'no wrk'}; {info['nginx'] or 'no nginx'} |",
          ""]
    if NOTES:
        md += ["Notes on this run:", ""] + [f"- {n}" for n in NOTES] + [""]
    spreads = [spread(runs, primary(w)) for w in results for runs in results[w].values()]
    if spreads:
        md += [f"Noise: across all rows, the spread (max − min) ÷ median of the figure that "
               f"matters is {100 * median(spreads):.0f}% at the median row and "
               f"{100 * max(spreads):.0f}% at worst.", ""]
    md += ["How to read: every ratio is runtime ÷ peer, the median over the repetitions of "
           "the ratio within one repetition (the servers of one repetition run back to back, "
           "so a slow drift of the machine cancels out). "
           "In ratio cells the **bold** number is the figure that matters for that workload "
           "(requests per server-CPU-second for network workloads, whose load generator often "
           "saturates first; IOPS for file reads, where the process is CPU-bound), the other "
           "is the other one (`req/s / per-CPU` or `IOPS / per-CPU`). "
           "CPU s / M req is server CPU time (utime + stime) per million requests; "
           "`+ load generator` adds wrk's (HTTP rows).", "",
           f"![ratios]({os.path.relpath(chart, os.path.dirname(os.path.abspath(args.out)))})",
           "", "## Summary", "",
           "| workload | " + " | ".join(series_order(rows)) + " |"]
    series = series_order(rows)
    md.append("|---|" + "|".join(["---"] * len(series)) + "|")
    for wid in order:
        cells = {s: v for w, s, v in rows if w == wid}
        if cells:
            md.append(f"| {title(wid)} | " + " | ".join(
                f"{cells[s]:.2f}" if s in cells else "" for s in series) + " |")
    md.append("")

    sections = [
        ("TCP echo ping-pong (1 worker)", "benches/echo_load.py: every connection sends a "
         "message and waits for its echo; 1 server worker.", "req/s",
         [w for w in order if w.startswith("echo-") and w.endswith("-w1")]),
        ("HTTP keep-alive", "`wrk -t1 -c64 -d…s --latency` (keep-alive). HTTP hello: "
         "examples/http_hello.rs against benches/peers/tokio_http_hello.rs. File server: "
         "examples/file_server against nginx (`worker_processes 1; master_process off; "
         "sendfile on; access_log off; open_file_cache max=1000 inactive=60s; "
         "open_file_cache_valid 1s; open_file_cache_min_uses 1; open_file_cache_errors on`) "
         "and hyper + tower-http `ServeDir` on tokio's current_thread runtime; each served "
         "file is read into the page cache right before each run.", "req/s",
         [w for w in order if w.startswith("http-") and (w.endswith("-w1") or "file" in w)]),
        ("hyper + axum (1 worker)", "`wrk -t1 -c64 -d…s --latency` (keep-alive): "
         "examples/hyper_server.rs (an axum Router served by hyper-util's HTTP/1 + h2c "
         "builder on runtime, `TcpStream` as hyper's I/O directly) against "
         "benches/peers/tokio_hyper_hello.rs (the same Router and builder on tokio's "
         "current_thread runtime, `TokioIo`).", "req/s",
         [w for w in order if w.startswith("hyper-")]),
        ("axum app (2 workers each)", "`wrk -t1 -c64 -d…s --latency` (keep-alive): "
         "examples/axum_app.rs (`http::serve` on 2 workers, connections spread by load; "
         "`http::ServeDir` under `/static`, `http::TimeoutLayer`) against "
         "benches/peers/hyper_servedir's `axum_servedir` (the same app on tokio's "
         "multi_thread runtime with 2 workers: `axum::serve`, tower-http's `ServeDir` and "
         "`TimeoutLayer`). Both servers share the server cores.", "req/s",
         [w for w in order if w.startswith("axum-")]),
        ("File reads (1 GiB file, one worker)", "examples/file_load.rs (`--fixed`: registered "
         "file and buffers, READ_FIXED) against benches/peers/bare_uring_file (the ceiling: "
         "io_uring with no runtime, registered file and buffers, queue kept full, one "
         "io_uring_enter per completion round), monoio (`monoio_file_load`), "
         "benches/peers/tokio_file_load.rs and fio (`--ioengine=io_uring --fixedbufs=1 "
         "--registerfiles=1 --iodepth_batch_submit=QD --invalidate=0 --norandommap`), each "
         "on one core; QD = reads in flight (tasks). Ratio columns are for runtime's rows. tokio "
         "uses tokio::fs::File (seek + read_exact) for buffered reads and "
         "spawn_blocking(pread) for O_DIRECT, which tokio::fs::File cannot do (its internal "
         "buffer is not aligned). Latency is per read, from submission to completion.",
         "IOPS", [w for w in order if w.startswith("file-")]),
    ]
    for name, text, unit, wids in sections:
        wids = [w for w in wids if w in results]
        if wids:
            md += [f"## {name}", "", text, "", table(results, wids, unit), ""]
    pairs = [(one, many, int(many.rsplit("-w", 1)[1])) for one, many in
             [(w.rsplit("-w", 1)[0] + "-w1", w) for w in order if re.search(r"-w([2-9]|\d\d+)$", w)]
             if one in results and many in results]
    if pairs:
        md += ["## Scaling", "",
               f"Servers get cores {cpulist(args.server_cpus)}"
               + (": on this machine every worker shares one core, so the rows show what an "
                  "extra worker costs, not a speed-up." if len(args.server_cpus) == 1 else "."),
               "tokio's peers use its multi_thread runtime for more than one worker.", "",
               scaling_table(results, pairs), ""]

    why = reasons()
    behind = []
    for wid in order:
        if wid not in results:
            continue
        labels = list(results[wid])
        for ref in references(wid, labels):
            for label in RUNTIME_LABELS:
                if label not in labels:
                    continue
                main = ratio(results, wid, label, ref, primary(wid))
                other_key = "rps" if primary(wid) == "per_cpu" else "per_cpu"
                other = ratio(results, wid, label, ref, other_key)
                if round(main, 2) < 1:  # 0.995 prints as 1.00 and is not behind
                    behind.append((wid, f"{label} at {main:.2f}× {ref} "
                                   f"({'IOPS' if primary(wid) == 'rps' else 'per server-CPU-s'})"
                                   + (f", {other:.2f}× on "
                                      f"{'req/s' if other_key == 'rps' else 'per-CPU'}")))
    md += ["## Where runtime is behind", ""]
    if not behind:
        md += ["Nowhere in this run: every runtime ÷ peer ratio on the figure that matters "
               "is at least 1.", ""]
    for wid, what in behind:
        md.append(f"- **{title(wid)}**: {what}.")
    md.append("")
    # One explanation per why.md section, headed by the rows it explains.
    groups = {}
    for wid, _ in behind:
        groups.setdefault(reason_for(why, wid), []).append(title(wid))
    for pattern, titles in groups.items():
        titles = list(dict.fromkeys(titles))
        md += [f"### {'; '.join(titles)}", "",
               why[pattern] if pattern else "Not profiled yet.", ""]
    if "general" in why:
        md += ["## Profiling notes", "", why["general"], ""]
    with open(args.out, "w") as f:
        f.write("\n".join(md))
    log(f"wrote {args.out} and {chart}")
    return rows


# ---------------------------------------------------------------- main


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="3 repetitions of 1 s (file reads 0.5 s): under 3 minutes")
    ap.add_argument("--cores", type=int, default=None,
                    help="cores to use (default: all); servers get the first half")
    ap.add_argument("--only", default="echo,http,hyper,axum,file,scaling",
                    help="comma-separated subset of echo,http,hyper,axum,file,scaling; "
                    "also file-server: only http's file-server rows (4 KiB and 1 MiB "
                    "against nginx and hyper + ServeDir), without HTTP hello")
    ap.add_argument("--reps", dest="reps_opt", metavar="N", type=int, default=None,
                    help="repetitions per row (default: 5, or 3 with --quick); tables "
                    "show their medians")
    ap.add_argument("--secs", dest="secs_opt", metavar="SECS", type=int, default=None,
                    help="whole seconds per network run (default: 3, or 1 with --quick)")
    ap.add_argument("--out", default=os.path.join(ROOT, "BENCHMARKS.md"))
    ap.add_argument("--file-rows", default=None,
                    help="comma-separated file workload ids to run (e.g. "
                    "file-rand-4k-qd32,file-seq-128k-qd1); default: all")
    ap.add_argument("--no-build", action="store_true", help="use the binaries already built")
    ap.add_argument("--no-install", action="store_true", help="never run apt-get")
    ap.add_argument("--report-only", action="store_true",
                    help="measure nothing: rewrite BENCHMARKS.md and the chart from "
                    "benches/results/latest.json (after editing why.md)")
    args = ap.parse_args()
    if args.report_only:
        with open(os.path.join(RESULTS, "latest.json")) as f:
            saved = json.load(f)
        for k, v in saved["settings"].items():
            setattr(args, k, v)
        NOTES.extend(saved["notes"])
        write_report(args, saved["machine"], saved["results"], saved["order"])
        return
    args.reps, args.net_secs, args.file_secs = (3, 1, 0.5) if args.quick else (5, 3, 2)
    if args.reps_opt is not None:
        args.reps = max(1, args.reps_opt)
    if args.secs_opt is not None:
        args.net_secs = args.secs_opt
    cores = sorted(os.sched_getaffinity(0))
    if args.cores:
        if args.cores > len(cores):
            sys.exit(f"--cores {args.cores}: only {len(cores)} available")
        cores = cores[:args.cores]
    if len(cores) < 2:
        sys.exit("needs two cores: servers on the first half, load on the second")
    half = len(cores) // 2
    args.server_cpus, args.client_cpus = cores[:half], cores[half:]
    only = set(args.only.split(","))

    # Stop every server on Ctrl-C, SIGTERM or an exception. When started as a
    # shell's background job SIGINT is ignored, and children would inherit
    # that: catch it, so they get the default action (echo_load.py stops its
    # servers with SIGINT).
    signal.signal(signal.SIGINT, signal.default_int_handler)

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="runtime-bench-") as tmp:
        args.tmp = tmp
        try:
            tools = ensure_tools(args.no_install)
            have_hyper = build(args.no_build)
            info = machine(args)
            www = os.path.join(tmp, "www")
            os.makedirs(www)
            os.chmod(tmp, 0o755)
            for name, size in (("4k.bin", 4096), ("1m.bin", 1 << 20)):
                with open(os.path.join(www, name), "wb") as f:
                    f.write(os.urandom(size))
            results, order = {}, []
            conns, sizes = [1, 100, 1000], [64, 4096]
            # More than one worker: 2, and all server cores on a bigger machine.
            workers_n = sorted({2, len(args.server_cpus)} - {1})
            if "echo" in only:
                busy_before("the echo rows", args.net_secs / 2)
                r = echo_suite(args, 1, conns, sizes)
                results.update(r)
                order += list(r)
            if "http" in only or "file-server" in only:
                busy_before("the http rows", args.net_secs / 2)
                r = http_suite(args, tools, have_hyper, www, tmp, hello="http" in only)
                results.update(r)
                order += list(r)
            if "hyper" in only:
                busy_before("the hyper rows", args.net_secs / 2)
                r = hyper_suite(args, tools, www, tmp)
                results.update(r)
                order += list(r)
            if "axum" in only:
                busy_before("the axum rows", args.net_secs / 2)
                r = axum_suite(args, tools, www, tmp)
                results.update(r)
                order += list(r)
            if "file" in only:
                busy_before("the file rows", args.net_secs / 2)
                r = file_suite(args, tools)
                results.update(r)
                order += list(r)
            if "scaling" in only:
                for n in workers_n:
                    r = echo_suite(args, n, [1000], [64])
                    results.update(r)
                    order += list(r)
                    r = http_suite(args, tools, have_hyper, www, tmp, workers=n)
                    results.update(r)
                    order += list(r)
            elapsed = time.monotonic() - started
            note(f"the whole run took {elapsed / 60:.1f} minutes")
            rows = write_report(args, info, results, order)
        except KeyboardInterrupt as e:
            log(f"interrupted ({e}); stopping servers")
            stop_all()
            sys.exit(130)
        finally:
            stop_all()
    for wid, s, v in rows:
        print(f"{title(wid):40} {s:32} {v:6.2f}")


if __name__ == "__main__":
    main()
