"""`workbench run DIR --source SRC`: line mode; one JSON result per part on stdout (and MQTT), NG images, zone alerts."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run",
        help="inspect parts on the line with an exported bundle (video, camera, simulated camera)",
        description="Find part passes in the source, take the best-aligned frame of every view, run the bundle's "
        "ONNX graphs, and print one JSON result per part (also published on MQTT with --mqtt).",
    )
    p.add_argument("bundle", type=Path, help="bundle folder written by 'workbench export'")
    p.add_argument("--source", required=True, help="video.mp4, sim:video.mp4, camera:N or genicam:CTI[#N]")
    p.add_argument("--mqtt", metavar="HOST:PORT", default=None, help="publish results to this MQTT broker")
    p.add_argument(
        "--topic",
        default=None,
        help="MQTT topic for results (default workbench/<station>); alerts go to <topic>/alerts",
    )
    p.add_argument(
        "--save-ng",
        type=Path,
        default=None,
        metavar="FOLDER",
        help="save crops, overlays and JSON of rejected parts",
    )
    p.add_argument(
        "--fusion",
        choices=("any", "all", "majority"),
        default=None,
        help="part verdict from views (default: the bundle's)",
    )
    p.add_argument(
        "--missing",
        choices=("ng", "ok", "ignore"),
        default=None,
        help="how a view not found in a pass counts",
    )
    p.add_argument(
        "--alert-window", type=int, default=50, help="zone alerts: parts in the sliding window (default 50)"
    )
    p.add_argument(
        "--alert-limit",
        type=float,
        default=0.2,
        help="zone alerts: error rate above which to alert (default 0.2)",
    )
    p.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda", "tensorrt", "directml"),
        default="auto",
        help="onnxruntime execution provider",
    )
    p.add_argument(
        "--require-gpu", action="store_true", help="fail unless a GPU execution provider is active"
    )
    p.add_argument(
        "--threads", type=int, default=None, help="onnxruntime intra-op threads (default: its choice)"
    )
    p.add_argument("--max-parts", type=int, default=None, help="stop after this many parts")
    p.add_argument(
        "--fast",
        action="store_true",
        help="play sim: sources as fast as possible instead of at their frame rate",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from workbench.core.progress import CancelToken
    from workbench.line.inspect import run_line
    from workbench.line.sinks import MqttSink, Outputs, ZoneAlerts, parse_host_port

    if not args.bundle.is_dir():
        raise FileNotFoundError(f"bundle folder not found: {args.bundle}")
    manifest = (
        json.loads((args.bundle / "manifest.json").read_text())
        if (args.bundle / "manifest.json").is_file()
        else {}
    )
    station = manifest.get("station", {}).get("name") or "line"
    topic = args.topic or f"workbench/{station}"
    mqtt = None
    if args.mqtt:
        host, port = parse_host_port(args.mqtt)
        mqtt = MqttSink(host, port, client_id=f"workbench-{station}")
        log.info("publishing to mqtt://%s:%d topic %s (alerts on %s/alerts)", host, port, topic, topic)
    outputs = Outputs(mqtt, topic, args.save_ng, ZoneAlerts(args.alert_window, args.alert_limit))
    cancel = CancelToken()
    try:
        summary = run_line(
            args.bundle, args.source, outputs, device=args.device, require_gpu=args.require_gpu,
            threads=args.threads, fusion=args.fusion, missing=args.missing, realtime=not args.fast,
            max_parts=args.max_parts, cancel=cancel,
        )  # fmt: skip
    except KeyboardInterrupt:
        cancel.cancel()
        print("workbench run: stopped", file=sys.stderr)
        return 130
    finally:
        outputs.close()
    print(
        f"{summary.parts} parts ({summary.ng} NG) from {summary.frames} frames in {summary.seconds:.1f} s: "
        f"{summary.parts_per_minute:.1f} parts/min, {summary.fps:.1f} frames/s, {summary.alerts} alerts; "
        f"providers {sorted({p for v in summary.providers.values() for p in v})}",
        file=sys.stderr,
    )
    return 0
