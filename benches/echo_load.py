#!/usr/bin/env python3
"""Echo ping-pong: runtime (io_uring and epoll) against tokio, in one run.

Each server (examples/echo.rs on each driver, benches/peers/tokio_echo.rs)
runs with one worker pinned to core 0; the load generator
(examples/echo_client.rs) runs pinned to core 1. For every connection count
and message size the servers take turns, round after round, and the script
prints the medians: requests/s, p50/p99 latency, and the figure of merit,
requests per second of server CPU time (utime + stime of the server process
from /proc/PID/stat, read just before and after each measured run).

    python3 benches/echo_load.py                 # 5 rounds, 5 s per run
    python3 benches/echo_load.py --quick         # 1 round, 1 s per run
    python3 benches/echo_load.py --callgrind     # instructions per request
    python3 benches/echo_load.py --workers 2 --server-cpus 0-1 --client-cpus 2-3
    python3 benches/echo_load.py --servers uring,epoll,tokio,bare,bare-multishot

The bare peers are benches/peers/bare_uring_echo/: io_uring with no async
runtime (no tasks, no wakers), the ceiling for an io_uring program on this
machine. `bare` works per request as the runtime does (recv, then send);
`bare-multishot` uses multishot recv into a provided-buffer ring and direct
descriptors. `monoio` is the same echo on monoio's io_uring driver
(benches/peers/monoio_echo/, its own Cargo project, built on demand);
`monoio-coop` and `monoio-defer` give its ring the setup flags runtime uses
(COOP_TASKRUN; SINGLE_ISSUER | DEFER_TASKRUN). These run one worker only, and are left out unless --servers names them.

--callgrind runs each server under valgrind's callgrind instead, zeroes the
counters after a warm-up, drives a fixed-length load, and divides the
user-space instructions the server executed by the requests it answered.

Loopback only (127.0.0.1, ports chosen by the kernel); every run is bounded
by its duration and the script stops its servers before it exits.
"""

import argparse
import collections
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERVER_CORE = "0"
CLIENT_CORE = "1"
CLK_TCK = os.sysconf("SC_CLK_TCK")
# Extra arguments for every server and for the load generator (--workers).
SERVER_ARGS = []
CLIENT_ARGS = []

# The peers with their own Cargo project build here (beside run.py's).
PEER_TARGET = os.path.join(
    os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "peers")
MONOIO_MANIFEST = os.path.join(ROOT, "benches", "peers", "monoio_echo", "Cargo.toml")
MONOIO_BIN = os.path.join(PEER_TARGET, "release", "monoio_echo")

# How to start a server: its example binary, extra arguments and environment,
# the label in the tables, and whether it takes --workers.
Peer = collections.namedtuple("Peer", "binary args env label workers")
SERVERS = {
    "uring": Peer("echo", [], {"RUNTIME_DRIVER": "uring"}, "runtime/uring", True),
    "epoll": Peer("echo", [], {"RUNTIME_DRIVER": "epoll"}, "runtime/epoll", True),
    "tokio": Peer("tokio_echo", [], {}, "tokio", True),
    # The same echo through the tokio-io bridge (tokio::io::copy): its cost
    # against the owned-buffer API.
    "compat": Peer("echo", ["--compat"], {"RUNTIME_DRIVER": "uring"}, "runtime/uring compat", True),
    "compat-epoll": Peer("echo", ["--compat"], {"RUNTIME_DRIVER": "epoll"},
                         "runtime/epoll compat", True),
    "bare": Peer("bare_uring_echo", ["--mode", "oneshot"], {}, "bare io_uring", False),
    "bare-multishot": Peer("bare_uring_echo", ["--mode", "multishot"], {},
                           "bare io_uring (multishot)", False),
    # An absolute path: its own project, built by build(). The default ring
    # has no setup flags; -coop and -defer add the ones runtime uses.
    "monoio": Peer(MONOIO_BIN, [], {}, "monoio", False),
    "monoio-coop": Peer(MONOIO_BIN, ["--ring", "coop"], {},
                        "monoio (COOP_TASKRUN)", False),
    "monoio-defer": Peer(MONOIO_BIN, ["--ring", "defer"], {},
                         "monoio (DEFER_TASKRUN)", False),
}
CLIENT_LINE = re.compile(
    r"([\d.]+)s: (\d+) requests/s, p50 (\d+) µs, p99 (\d+) µs"
)


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def examples_dir():
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    return os.path.join(target, "release", "examples")


def build(names=()):
    # The features run.py builds with too (the compat servers need tokio-io).
    log("building: cargo build --release --examples --features hyper,tokio-io")
    subprocess.run(
        ["cargo", "build", "--release", "--examples", "--features", "hyper,tokio-io"],
        cwd=ROOT, check=True
    )
    if any(n.startswith("monoio") for n in names):
        log(f"building: cargo build --release --manifest-path {MONOIO_MANIFEST}")
        subprocess.run(["cargo", "build", "--release", "--manifest-path",
                        MONOIO_MANIFEST, "--target-dir", PEER_TARGET],
                       cwd=ROOT, check=True, timeout=900)


def cpu_seconds(pid):
    """utime + stime of the whole process, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    # The command name may hold spaces: split after its closing parenthesis.
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


class Server:
    """One echo server, pinned to the server core, on a kernel-chosen port."""

    def __init__(self, name, wrapper=()):
        peer = SERVERS[name]
        self.name = name
        cmd = ["taskset", "-c", SERVER_CORE, *wrapper,
               os.path.join(examples_dir(), peer.binary), "--addr", "127.0.0.1:0",
               *peer.args, *SERVER_ARGS]
        # stdout goes to a file, never a pipe nobody drains.
        self.out = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(
            cmd,
            env={**os.environ, **peer.env},
            stdout=self.out,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.addr = None
        deadline = time.monotonic() + 60
        while self.addr is None and time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            self.out.seek(0)
            m = re.search(r"listening on (\S+)", self.out.read())
            if m:
                self.addr = m.group(1)
            else:
                time.sleep(0.05)
        if self.addr is None:
            self.stop()
            raise RuntimeError(f"{name}: server did not start")

    @property
    def pid(self):
        # taskset execs the server (and valgrind runs in the same process).
        return self.proc.pid

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def run_client(addr, conns, size, secs):
    """Runs the load generator; returns (req/s, p50 µs, p99 µs, requests)."""
    cmd = ["taskset", "-c", CLIENT_CORE,
           os.path.join(examples_dir(), "echo_client"),
           "--addr", addr, "-c", str(conns), "-s", str(size), "-d", str(secs),
           *CLIENT_ARGS]
    env = {**os.environ, "RUNTIME_DRIVER": "uring"}
    out = subprocess.run(cmd, env=env, capture_output=True, text=True,
                         timeout=secs + 60)
    m = CLIENT_LINE.search(out.stdout)
    if out.returncode != 0 or m is None or out.stderr.strip():
        raise RuntimeError(f"echo_client failed: {out.stdout}{out.stderr}")
    elapsed, rps, p50, p99 = float(m[1]), int(m[2]), int(m[3]), int(m[4])
    return rps, p50, p99, rps * elapsed


def measure(server, conns, size, secs):
    before = cpu_seconds(server.pid)
    t0 = time.monotonic()
    rps, p50, p99, requests = run_client(server.addr, conns, size, secs)
    wall = time.monotonic() - t0
    cpu = cpu_seconds(server.pid) - before
    return {
        "rps": rps, "p50": p50, "p99": p99,
        "cpu": cpu / wall,
        "per_cpu": requests / cpu if cpu > 0 else float("inf"),
    }


def fmt_range(vals, scale=1.0):
    return f"{min(vals) / scale:.0f}–{max(vals) / scale:.0f}"


def table(results, names, configs, markdown):
    head = ["conns", "size", "server", "req/s", "p50 µs", "p99 µs",
            "server CPU", "req per CPU-s (min–max)",
            "× tokio (paired median, min–max)"]
    rows = []
    for conns, size in configs:
        key = f"{conns}x{size}"
        med = {}
        for name in names:
            runs = results[key][name]
            med[name] = statistics.median(r["per_cpu"] for r in runs)
        for name in names:
            runs = results[key][name]
            per = [r["per_cpu"] for r in runs]
            ratio = "–"
            if "tokio" in med and med["tokio"]:
                # Same-round pairs cancel slow drifts of the machine's speed.
                paired = [a["per_cpu"] / b["per_cpu"]
                          for a, b in zip(runs, results[key]["tokio"])]
                ratio = (f"{med[name] / med['tokio']:.2f} (paired "
                         f"{statistics.median(paired):.2f}, "
                         f"{min(paired):.2f}–{max(paired):.2f})")
            rows.append([
                str(conns), "16 KiB" if size == 16384 else f"{size} B",
                SERVERS[name].label,
                f"{statistics.median(r['rps'] for r in runs):.0f}",
                f"{statistics.median(r['p50'] for r in runs):.0f}",
                f"{statistics.median(r['p99'] for r in runs):.0f}",
                f"{100 * statistics.median(r['cpu'] for r in runs):.0f}%",
                f"{statistics.median(per) / 1000:.0f}k ({fmt_range(per, 1000)}k)",
                ratio,
            ])
    if markdown:
        lines = ["| " + " | ".join(head) + " |",
                 "|" + "|".join("---" for _ in head) + "|"]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(lines)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    fmt = lambda r: "  ".join(c.rjust(w) for c, w in zip(r, widths))
    return "\n".join([fmt(head), *map(fmt, rows)])


def bench(args, names, configs):
    results = {f"{c}x{s}": {n: [] for n in names} for c, s in configs}
    width = max(map(len, names))
    servers = {}
    try:
        for name in names:
            servers[name] = Server(name)
            log(f"{name}: {servers[name].addr} (pid {servers[name].pid})")
        for name in names:  # warm-up: page in, grow buffers and slabs
            run_client(servers[name].addr, 64, 64, 1)
        for rnd in range(args.rounds):
            for conns, size in configs:
                # Rotate the order each round so no server always goes first.
                order = names[rnd % len(names):] + names[:rnd % len(names)]
                for name in order:
                    r = measure(servers[name], conns, size, args.duration)
                    results[f"{conns}x{size}"][name].append(r)
                    log(f"round {rnd + 1}/{args.rounds} c={conns:<3} s={size:<5} "
                        f"{name:{width}}: {r['rps']:8.0f} req/s  p99 {r['p99']:5} µs  "
                        f"cpu {100 * r['cpu']:3.0f}%  {r['per_cpu']:8.0f} req/CPU-s")
    finally:
        for s in servers.values():
            s.stop()
    return results


def callgrind(args, names, configs):
    """User-space instructions per request for each server, under callgrind."""
    if shutil.which("valgrind") is None:
        sys.exit("--callgrind needs valgrind")
    out_dir = tempfile.mkdtemp(prefix="echo-callgrind-")
    log(f"callgrind profiles in {out_dir}")
    results = {}
    width = max(map(len, names))
    for conns, size in configs:
        for name in names:
            out = os.path.join(out_dir, f"{name}-{conns}x{size}.out")
            # CALLGRIND_ARGS adds options, e.g. "--dump-instr=yes" for
            # per-instruction costs.
            wrapper = ("valgrind", "--tool=callgrind", "--compress-strings=no",
                       f"--callgrind-out-file={out}",
                       *os.environ.get("CALLGRIND_ARGS", "").split())
            server = Server(name, wrapper)
            try:
                run_client(server.addr, conns, size, 2)  # warm-up, not counted
                control = lambda flag: subprocess.run(
                    ["callgrind_control", flag, str(server.pid)],
                    check=True, capture_output=True)
                control("-z")
                _, _, _, requests = run_client(server.addr, conns, size,
                                               args.duration)
                control("-d")
            finally:
                server.stop()
            # The dump after the zeroing holds exactly the measured window.
            dumps = sorted(f for f in os.listdir(out_dir)
                           if f.startswith(os.path.basename(out) + "."))
            instr = 0
            with open(os.path.join(out_dir, dumps[0])) as f:
                for line in f:
                    if line.startswith("totals:") or line.startswith("summary:"):
                        instr = int(line.split()[1])
            per = instr / requests if requests else float("nan")
            results[f"{conns}x{size}/{name}"] = {"instructions": instr,
                                                 "requests": requests,
                                                 "per_request": per}
            log(f"{name:{width}} c={conns:<3} s={size:<5}: {requests:.0f} requests, "
                f"{per:.0f} instructions/request")
    widths = {n: max(14, len(SERVERS[n].label)) for n in names}
    print(f"{'conns':>5} {'size':>6} "
          + " ".join(f"{SERVERS[n].label:>{widths[n]}}" for n in names)
          + "   (user-space instructions per request)")
    for conns, size in configs:
        cells = [f"{results[f'{conns}x{size}/{n}']['per_request']:{widths[n]}.0f}"
                 for n in names]
        print(f"{conns:>5} {size:>6} " + " ".join(cells))
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--duration", type=int, default=5, help="seconds per run")
    ap.add_argument("--conns", default="1,64,256")
    ap.add_argument("--sizes", default="64,16384")
    ap.add_argument("--servers", default="uring,epoll,tokio",
                    help=f"comma-separated, from {','.join(SERVERS)}")
    ap.add_argument("--quick", action="store_true", help="1 round of 1 s runs")
    ap.add_argument("--callgrind", action="store_true",
                    help="instructions per request under callgrind")
    ap.add_argument("--markdown", action="store_true", help="print a Markdown table")
    ap.add_argument("--json", help="also write the raw results here")
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--workers", type=int, default=1,
                    help="server worker threads (tokio: multi_thread if > 1)")
    ap.add_argument("--server-cpus", default="0",
                    help="taskset list for the servers (default 0)")
    ap.add_argument("--client-cpus", default="1",
                    help="taskset list for the load generator (default 1)")
    ap.add_argument("--client-workers", type=int, default=1,
                    help="load generator worker threads")
    args = ap.parse_args()
    global SERVER_CORE, CLIENT_CORE
    SERVER_CORE, CLIENT_CORE = args.server_cpus, args.client_cpus
    if args.workers > 1:
        SERVER_ARGS.extend(["--workers", str(args.workers)])
    if args.client_workers > 1:
        CLIENT_ARGS.extend(["--workers", str(args.client_workers)])
    if args.quick:
        args.rounds, args.duration = 1, 1
    names = [n.strip() for n in args.servers.split(",") if n.strip()]
    for n in names:
        if n not in SERVERS:
            sys.exit(f"unknown server {n!r}; choose from {', '.join(SERVERS)}")
    single = [n for n in names if not SERVERS[n].workers]
    if args.workers > 1 and single:
        sys.exit(f"{', '.join(single)}: one worker only; leave out --workers "
                 "or these servers")
    configs = [(int(c), int(s)) for c in args.conns.split(",")
               for s in args.sizes.split(",")]
    if os.cpu_count() < 2:
        sys.exit("needs two cores: the server on core 0, the load on core 1")
    if not args.no_build:
        build(names)
    if args.callgrind:
        results = callgrind(args, names, configs)
    else:
        results = bench(args, names, configs)
        print(f"echo ping-pong, {args.rounds} round(s) of {args.duration} s; "
              f"server on core {SERVER_CORE}, load on core {CLIENT_CORE}; medians")
        print(table(results, names, configs, args.markdown))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
