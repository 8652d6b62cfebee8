"""`workbench-line run DIR --source SRC`: the line PC's command (also `workbench run`).

It imports only the line runtime (onnxruntime, OpenCV, numpy, paho-mqtt): no torch, h5py, scipy or Qt,
so it runs from a `pip install anomaly-workbench[line]` environment.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from workbench import __version__
from workbench.core.command import run_command
from workbench.line.mqtt import add_mqtt_arguments, sink_from_args
from workbench.line.verdict import FUSION_RULES, MISSING_RULES

log = logging.getLogger(__name__)


def add_run_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of a line run (shared by `workbench run` and `workbench-line run`)."""
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
        choices=FUSION_RULES,
        default=None,
        help="part verdict from views (default: the bundle's)",
    )
    p.add_argument(
        "--missing",
        choices=MISSING_RULES,
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
    add_mqtt_arguments(p)


RUN_HELP = "inspect parts on the line with an exported bundle (video, camera, simulated camera)"
RUN_DESCRIPTION = (
    "Find part passes in the source, take the best-aligned frame of every view, run the bundle's ONNX "
    "graphs, and print one JSON result per part (also published on MQTT with --mqtt)."
)


def run(args: argparse.Namespace) -> int:
    """Run a bundle on a source until it ends (or --max-parts, or Ctrl+C); results on stdout."""
    from workbench.core.progress import CancelToken
    from workbench.line.bundle import read_manifest
    from workbench.line.inspect import run_line
    from workbench.line.sinks import Outputs, ZoneAlerts

    if not args.bundle.is_dir():
        raise FileNotFoundError(f"bundle folder not found: {args.bundle}")
    for option, value in (("--max-parts", args.max_parts), ("--threads", args.threads)):
        if value is not None and value < 1:
            raise ValueError(f"{option}: expected a whole number >= 1; found {value}")
    manifest = read_manifest(args.bundle)  # a damaged or edited manifest is refused before connecting
    station = manifest.get("station", {}).get("name") or "line"
    topic = args.topic or f"workbench/{station}"
    mqtt = sink_from_args(args, station)  # its own client id and disk queue: never waits for the broker
    if mqtt is not None:
        log.info(
            "publishing to mqtt://%s:%d topic %s (alerts on %s/alerts)", mqtt.host, mqtt.port, topic, topic
        )
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
        f"{summary.parts} parts ({summary.ng} NG, {summary.suspect} suspect) from {summary.frames} frames in "
        f"{summary.seconds:.1f} s: {summary.parts_per_minute:.1f} parts/min, {summary.fps:.1f} frames/s, "
        f"{summary.alerts} alerts; providers {sorted({p for v in summary.providers.values() for p in v})}",
        file=sys.stderr,
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="workbench-line", description="The line runtime of the anomaly workbench (no torch needed)."
    )
    parser.add_argument("--version", action="version", version=f"workbench-line {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    p = sub.add_parser("run", help=RUN_HELP, description=RUN_DESCRIPTION)
    add_run_arguments(p)
    p.set_defaults(func=run)
    return parser


def main(argv: list[str] | None = None) -> int:
    return run_command(build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
