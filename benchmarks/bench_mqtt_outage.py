"""Line mode through MQTT broker outages: a real mosquitto on 127.0.0.1 is stopped mid-run for each given
number of seconds (default 30 and 120) while `workbench run` inspects a video played as a live camera.

For each outage: the run's exit code, parts printed, parts inspected while the broker was away, results a
persistent subscriber received (missing, duplicates), and how long after the broker came back the last
result queued during the outage arrived. Baseline measured in the same run: the same video with no
outage (``ratio_parts_per_min_to_no_outage``: inspection never waits for the broker, so about 1).
Prints one JSON line. Needs mosquitto and paho-mqtt.

    .venv/bin/python benchmarks/bench_mqtt_outage.py [--outages 30 120]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "line"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_bitflip import build_station  # noqa: E402
from mqtt_broker import MOSQUITTO, Broker, Subscriber  # noqa: E402


def looped_video(video: Path, out: Path, seconds: float) -> Path:
    """``video`` played over and over into ``out`` until it lasts ``seconds``."""
    cap = cv2.VideoCapture(str(video))
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    for i in range(int(seconds * fps)):
        writer.write(frames[i % len(frames)])
    writer.release()
    return out


def _span(results: list[dict]) -> float:
    """Seconds from the first part's result to the last's: the inspection cadence, startup excluded."""
    times = [dt.datetime.fromisoformat(r["time"]).timestamp() for r in results]
    return max(times) - min(times) if len(times) > 1 else 0.0


def one_run(bundle: Path, video: Path, folder: Path, outage: float) -> dict:
    broker = Broker(folder / "broker")
    sub = Subscriber(broker.port, "bench/outage", client_id=f"bench-sub-{int(outage)}")
    cmd = [sys.executable, "-m", "workbench", "run", str(bundle), "--source", f"sim:{video}", "--device", "cpu",
           "--mqtt", f"127.0.0.1:{broker.port}", "--topic", "bench/outage", "--mqtt-queue", str(folder / "q"),
           "--mqtt-drain", "300"]  # fmt: skip
    t_start = time.time()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    results: list[dict] = []
    first = threading.Event()

    def read() -> None:
        for line in proc.stdout:
            if line.startswith("{"):
                results.append(json.loads(line))
                first.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    down = back = None
    try:
        first.wait(600)
        if outage > 0:
            time.sleep(2.0)
            down = dt.datetime.now(dt.UTC)
            broker.stop()
            time.sleep(outage)
            broker.start()
            back = dt.datetime.now(dt.UTC)
        code = proc.wait(timeout=3600)
        reader.join(timeout=10)
        wall = time.time() - t_start
        ids = [r["id"] for r in results]
        missing = sub.wait_for("bench/outage", set(ids), timeout=300)
        received = sub.ids("bench/outage")
        during = [r for r in results if down and down <= dt.datetime.fromisoformat(r["time"]) <= back]
        last_queued = max((sub.first_seen.get(r["id"], float("nan")) for r in during), default=float("nan"))
        return {
            "outage_s": outage,
            "exit_code": code,
            "parts": len(results),
            "parts_during_outage": len(during),
            "delivered": len(set(received) & set(ids)),
            "missing": len(missing),
            "duplicates": len(received) - len(set(received)),
            "last_outage_result_after_broker_back_s": round(last_queued - back.timestamp(), 2)
            if back
            else None,
            "wall_s": round(wall, 1),
            "parts_per_min": round(60 * (len(results) - 1) / max(_span(results), 1e-9), 2),
        }
    finally:
        if proc.poll() is None:
            proc.kill()
        sub.close()
        broker.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--outages", type=float, nargs="+", default=[30.0, 120.0])
    args = ap.parse_args()
    if MOSQUITTO is None:
        raise SystemExit("mosquitto is not installed (apt-get install mosquitto)")
    tmp = Path(tempfile.mkdtemp(prefix="bench_outage_"))
    try:
        from workbench.cli.main import main as cli

        station = build_station(tmp / "build")
        bundle = tmp / "bundle"
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            assert cli(["export", str(station), "--out", str(bundle), "--accept-small-validation"]) == 0
        video = station.parent / "demo.mp4"
        runs = []
        base_video = looped_video(video, tmp / "base.mp4", 60.0)
        baseline = one_run(bundle, base_video, tmp / "base", 0.0)
        for outage in args.outages:
            v = looped_video(video, tmp / f"v{int(outage)}.mp4", outage + 45.0)
            runs.append(one_run(bundle, v, tmp / f"o{int(outage)}", outage))
        for r in runs:
            r["ratio_parts_per_min_to_no_outage"] = round(r["parts_per_min"] / baseline["parts_per_min"], 3)
        print(json.dumps({"benchmark": "mqtt_outage", "baseline_no_outage": baseline, "outages": runs}))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
