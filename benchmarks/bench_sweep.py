"""Sweep executors: 3 models x 3 seeds on the demo station, on the embedded local executor and on a local
Ray cluster.

Prints one JSON line: the local executor's wall time against the ideal (the sum of the cells' own times
divided by the cores: goal ratio <= 1.15), and the Ray cluster's wall time against the local executor's
(goal ratio <= 1.3), with the machine's load average before and after (take figures on a quiet machine).

The Ray cluster is one head node with as many CPUs as this machine, started inside a private network
namespace (``unshare -n``) so that its traffic stays on loopback; without unshare, Ray or root rights
the Ray figure is reported as missing with the reason.

Usage: python benchmarks/bench_sweep.py [--project STATION.awb] [--models patchcore padim simplenet]
       [--seeds 0-2] [--budget-s 20] [--passes 20]
(default: a fresh 20-pass demo station in a temporary folder; the project is copied, never changed).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def copy_station(src: Path, dst: Path) -> Path:
    dst.mkdir(parents=True)
    shutil.copy2(src, dst / src.name)
    side = src.with_name(src.name + ".d")
    if side.exists():
        shutil.copytree(side, dst / side.name)
    return dst / src.name


def sweep_cmd(project: Path, args: argparse.Namespace, extra: list[str]) -> list[str]:
    models = [x for m in args.models for x in ("--model", m)]
    budget = ["--budget-s", str(args.budget_s)] if args.budget_s else []
    return [
        sys.executable, "-m", "workbench", "sweep", str(project), *models, "--seeds", args.seeds,
        *budget, "--no-eval", "--json", "--quiet", "--param", "device=\"cpu\"", *extra,
    ]  # fmt: skip


def run_sweep(cmd: list[str], prefix: list[str] | None = None) -> tuple[dict, float]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    t0 = time.perf_counter()
    out = subprocess.run([*(prefix or []), *cmd], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if out.returncode != 0:
        raise RuntimeError(f"sweep failed ({out.returncode}): {out.stderr[-2000:]}")
    text = out.stdout
    return json.loads(text if text.startswith("{") else text[text.index("\n{") + 1 :]), wall


def cell_seconds(project: Path) -> list[float]:
    from workbench.project import Project

    with Project.open(project) as p:
        (record,) = (p.meta.get("sweeps") or {}).values()
        return [float(c["seconds"]) for c in record["cells"].values()]


RAY_SCRIPT = r"""
import json, os, socket, subprocess, sys, time
subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
ray_bin = os.path.join(os.path.dirname(sys.executable), "ray")
tmp = sys.argv[1]; cpus = sys.argv[2]; cmd = json.loads(sys.argv[3])
env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
head = subprocess.Popen([ray_bin, "start", "--head", "--port", "6379", "--node-ip-address", "127.0.0.1",
    "--num-cpus", cpus, "--include-dashboard=false", "--temp-dir", tmp, "--block", "--disable-usage-stats"],
    env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
try:
    import ray
    for _ in range(600):
        try:
            ray.init(address="127.0.0.1:6379", log_to_driver=False, logging_level="ERROR"); break
        except Exception:
            time.sleep(0.5)
    while not any(n["Alive"] and n["Resources"].get("CPU") for n in ray.nodes()):
        time.sleep(0.5)
    ray.shutdown()
    t0 = time.perf_counter()
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    print(json.dumps({"rc": out.returncode, "wall": time.perf_counter() - t0, "stdout": out.stdout,
                      "stderr": out.stderr[-2000:]}))
finally:
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                ppid = int(open(f"/proc/{d}/stat").read().rsplit(")", 1)[1].split()[1])
                kids.setdefault(ppid, []).append(int(d))
            except OSError:
                pass
    todo, tree = [head.pid], []
    while todo:
        p = todo.pop(); tree.append(p); todo.extend(kids.get(p, []))
    for p in tree:
        try:
            os.kill(p, 9)
        except OSError:
            pass
"""


def ray_run(project: Path, args: argparse.Namespace, cores: int) -> tuple[dict | None, float | None, str]:
    try:
        import ray  # noqa: F401
    except ImportError:
        return None, None, "ray is not installed (the cluster extra)"
    if not shutil.which("unshare") or not shutil.which("ip"):
        return None, None, "unshare or ip is missing"
    prefix = ["unshare", "-n"] if os.geteuid() == 0 else ["unshare", "-rn"]
    cmd = sweep_cmd(project, args, ["--ray", "127.0.0.1:6379", "--threads", "1"])
    tmp = tempfile.mkdtemp(prefix="wbray-", dir="/tmp")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    try:
        out = subprocess.run(
            [*prefix, sys.executable, "-c", RAY_SCRIPT, tmp, str(cores), json.dumps(cmd)],
            env=env,
            capture_output=True,
            text=True,
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if out.returncode != 0:
        return None, None, f"the Ray run failed: {out.stderr[-500:]}"
    res = json.loads(out.stdout.strip().splitlines()[-1])
    if res["rc"] != 0:
        return None, None, f"the Ray sweep failed: {res['stderr'][-500:]}"
    text = res["stdout"]
    return json.loads(text if text.startswith("{") else text[text.index("\n{") + 1 :]), res["wall"], ""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--project", type=Path, default=None)
    ap.add_argument("--models", nargs="+", default=["patchcore", "padim", "simplenet"])
    ap.add_argument("--seeds", default="0-2")
    ap.add_argument("--budget-s", type=float, default=20.0, help="training budget of SimpleNet per view")
    ap.add_argument("--passes", type=int, default=20)
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from workbench.jobs.sweep_exec import usable_cores

    cores = usable_cores()
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as tmp:
        tmp = Path(tmp)
        src = args.project
        if src is None:
            from workbench.jobs.demo import build_demo_station

            src = Path(build_demo_station(tmp / "demo", passes=args.passes, defect_rate=0.3).project_path)
        load_before = load()
        local = copy_station(src, tmp / "local")
        out_local, wall_local = run_sweep(sweep_cmd(local, args, ["--workers", str(cores), "--threads", "1"]))
        times = cell_seconds(local)
        ideal = sum(times) / cores
        remote = copy_station(src, tmp / "ray")
        out_ray, wall_ray, why = ray_run(remote, args, cores)
        ray_times = cell_seconds(remote) if out_ray else []
    line = {
        "benchmark": "sweep_executors",
        "cells": out_local["cells"],
        "models": args.models,
        "seeds": args.seeds,
        "cores": cores,
        "local_wall_s": round(wall_local, 1),
        "sum_cell_s": round(sum(times), 1),
        "ideal_s": round(ideal, 1),
        "local_ratio": round(wall_local / ideal, 3),
        "local_goal": 1.15,
        "ray_wall_s": None if wall_ray is None else round(wall_ray, 1),
        "ray_sum_cell_s": round(sum(ray_times), 1) if ray_times else None,
        "ray_ratio": None if wall_ray is None else round(wall_ray / wall_local, 3),
        "ray_goal": 1.3,
        "ray_missing": why or None,
        "load_before": load_before,
        "load_after": load(),
    }
    print(json.dumps(line))
    return 0


if __name__ == "__main__":
    sys.exit(main())
