"""Helper for test_sweep_ray.py, run inside a private network namespace (``unshare -n``): bring loopback up,
start a Ray head and two one-CPU workers on 127.0.0.1, run ``workbench sweep PROJECT --ray ... ARGS``,
kill the second worker node (raylet and its workers) while it computes a cell, and print one JSON line:
{"rc", "stdout", "stderr", "killed"}. Every process it started is ended by its id at the end.

Usage: python ray_cluster.py PROJECT [sweep arguments ...]
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PORT = 6379
ADDRESS = f"127.0.0.1:{PORT}"
SWEEP_TIMEOUT_S = 1500  # well inside the test's own limit, so this script always cleans up


def children_map() -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        out.setdefault(ppid, []).append(int(d.name))
    return out


def tree(pid: int) -> list[int]:
    kids, todo, out = children_map(), [pid], []
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def kill_all(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def wait_port(deadline: float) -> None:
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", PORT)) == 0:
                return
        time.sleep(0.3)
    raise TimeoutError("the Ray head did not open its port")


def alive_nodes(ray) -> int:
    return sum(1 for n in ray.nodes() if n.get("Alive"))


def start_worker(start, ray, want: int, tmp: str, tries: int = 3) -> subprocess.Popen:
    """Start a one-CPU worker node and wait until ``want`` nodes are alive; try again when it fails."""
    for _ in range(tries):
        p = start(["--address", ADDRESS, "--num-cpus", "1", "--temp-dir", tmp])
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and p.poll() is None and alive_nodes(ray) < want:
            time.sleep(0.5)
        if p.poll() is None and alive_nodes(ray) >= want:
            return p
        kill_all(tree(p.pid))
    raise RuntimeError(f"a Ray worker node did not start in {tries} tries")


def main() -> int:
    project, sweep_args = sys.argv[1], sys.argv[2:]
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    tmp = tempfile.mkdtemp(prefix="wbray-", dir="/tmp")  # short: Ray's socket paths must fit 107 bytes
    env = {
        **os.environ,
        "RAY_USAGE_STATS_ENABLED": "0",
        "RAY_health_check_period_ms": "1000",
        "RAY_health_check_failure_threshold": "3",
    }
    ray_bin = str(Path(sys.executable).with_name("ray"))
    node = [
        "--node-ip-address",
        "127.0.0.1",
        "--block",
        "--object-store-memory",
        "150000000",
        "--disable-usage-stats",
    ]
    started: list[subprocess.Popen] = []
    log = open(Path(tmp) / "nodes.log", "wb")  # noqa: SIM115 - lives as long as the nodes

    def start(args: list[str]) -> subprocess.Popen:
        p = subprocess.Popen([ray_bin, "start", *args, *node], env=env, stdout=log, stderr=log)
        started.append(p)
        return p

    result = {"rc": None, "stdout": "", "stderr": "", "killed": False, "error": ""}
    try:
        start(
            ["--head", "--port", str(PORT), "--num-cpus", "0", "--include-dashboard=false", "--temp-dir", tmp]
        )
        wait_port(time.monotonic() + 300)
        import ray

        ray.init(address=ADDRESS, log_to_driver=False, logging_level="ERROR")
        try:
            # One node at a time, each waited for: on a loaded machine a raylet can miss Ray's fixed 30 s
            # start-up wait, and is then simply started again.
            # The same temp folder as the head's: a driver on this machine finds the nodes through it
            # and then attaches to the head (Ray prefers it), never to the worker that is killed.
            start_worker(start, ray, 2, tmp)
            victim = start_worker(start, ray, 3, tmp)
        finally:
            ray.shutdown()
        sweep = subprocess.Popen(
            [sys.executable, "-m", "workbench", "sweep", project, "--ray", ADDRESS, *sweep_args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        started.append(sweep)
        seen_at = None
        give_up = time.monotonic() + SWEEP_TIMEOUT_S
        while sweep.poll() is None:
            if time.monotonic() > give_up:
                kill_all(tree(sweep.pid))
                raise TimeoutError(f"the sweep did not end in {SWEEP_TIMEOUT_S} s")
            if not result["killed"]:
                busy = [p for p in tree(victim.pid) if "_cell_task" in cmdline(p)]
                if busy and seen_at is None:
                    seen_at = time.monotonic()
                if busy and time.monotonic() - seen_at > 3.0:  # well inside the cell, not at its start
                    kill_all(tree(victim.pid))
                    result["killed"] = True
            time.sleep(0.2)
        out, err = sweep.communicate()
        result.update(rc=sweep.returncode, stdout=out.decode()[-20000:], stderr=err.decode()[-4000:])
    except Exception as exc:  # noqa: BLE001 - reported to the test, which fails with it
        result["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        for p in started:
            kill_all(tree(p.pid))
        for p in started:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                pass
        log.close()
        result["nodes_log"] = (Path(tmp) / "nodes.log").read_text(errors="replace")[-3000:]
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
