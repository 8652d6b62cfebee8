"""`workbench import-video|import-dataset|export-dataset|template`: bring images into a project and back out;
cut a view's template from a frame of a video."""

from __future__ import annotations

import argparse
import json
import logging
import re
from pathlib import Path

from workbench.cli.overwrite import check_image_target
from workbench.cli.progress import terminal_progress
from workbench.cli.verbs import add_verb
from workbench.io.images import read_image, write_image
from workbench.io.passes import PassRule
from workbench.io.template_origin import png_with_origin, read_origin
from workbench.io.track_rule import TrackRule
from workbench.io.video import VideoReader, frame_range, probe
from workbench.jobs.import_dataset import export_dataset, import_dataset
from workbench.jobs.import_video import import_video
from workbench.project import Project

log = logging.getLogger(__name__)


def _template_arg(text: str) -> tuple[str, str]:
    if "=" not in text or not text.split("=", 1)[0] or not text.split("=", 1)[1]:
        raise argparse.ArgumentTypeError(f"expected NAME=PNG (e.g. front=front.png), found '{text}'")
    name, path = text.split("=", 1)
    return name, path


def _window_arg(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not m or int(m.group(1)) == 0 or int(m.group(2)) == 0:
        raise argparse.ArgumentTypeError(f"expected a window WxH in pixels (e.g. 320x240), found '{text}'")
    return int(m.group(1)), int(m.group(2))


def _box_arg(text: str) -> tuple[int, int, int, int]:
    m = re.fullmatch(r"\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*", text)
    if not m or int(m.group(3)) == 0 or int(m.group(4)) == 0:
        raise argparse.ArgumentTypeError(
            f"expected a box X,Y,W,H in pixels (e.g. 120,40,200,160), found '{text}'"
        )
    x, y, w, h = (int(g) for g in m.groups())
    return x, y, w, h


def register(subparsers: argparse._SubParsersAction) -> None:
    p = add_verb(
        subparsers,
        "import-video",
        cmd_import_video,
        help="add a video: one sample per part pass and view",
        project=None,
    )
    # '-5x10' is a bad --window value to name, not an unknown option (argparse's default reads only plain
    # negative numbers as values)
    p._negative_number_matcher = re.compile(r"^-\d")
    p.add_argument("project", help="the project file (.awb)")
    p.add_argument("video", help="the video file (mp4, avi, mkv)")
    p.add_argument(
        "--template",
        action="append",
        type=_template_arg,
        default=[],
        metavar="NAME=PNG",
        help="a view's template image (repeat for several views); default: the project's views",
    )
    p.add_argument(
        "--match-threshold",
        type=float,
        default=None,
        metavar="T",
        help="minimum normalized cross-correlation of a view's best frame (default: none; passes are found "
        "with thresholds calibrated from the video)",
    )
    p.add_argument(
        "--window",
        type=_window_arg,
        default=None,
        metavar="WxH",
        help="crop window size centred on the match (default: template plus a 16 px margin)",
    )
    p.add_argument("--every", type=int, default=1, metavar="N", help="use every N-th frame")
    p.add_argument("--start", type=float, default=None, metavar="S", help="start time in seconds")
    p.add_argument("--end", type=float, default=None, metavar="E", help="end time in seconds")
    p.add_argument(
        "--top-k", type=int, default=1, metavar="K", help="keep the K best frames per pass and view"
    )
    p.add_argument(
        "--presence-high",
        type=float,
        default=None,
        metavar="H",
        help="force the presence rule instead of the rule calibrated from the video: presence level (mean "
        "grey-level difference to the empty conveyor) that starts a pass (default 12 when forced)",
    )
    p.add_argument(
        "--presence-low",
        type=float,
        default=None,
        metavar="L",
        help="force the presence rule: level below which a pass ends (default 8 when forced)",
    )
    p.add_argument("--min-pass", type=int, default=None, help="presence rule: shortest pass in frames")
    p.add_argument(
        "--min-gap", type=int, default=None, help="presence rule: shortest gap between passes in frames"
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="print the result as one JSON object (rule, passes, suspect passes)",
    )
    p.add_argument(
        "--label",
        choices=("unknown", "good", "defective"),
        default="unknown",
        help="label every new sample (e.g. 'good' for a video of normal production; default unknown)",
    )

    p = add_verb(
        subparsers,
        "template",
        cmd_template,
        help="cut a view's template (or a whole frame) from a video frame as a PNG",
        description="Write frame N of a video, or the box X,Y,W,H of it, as a PNG: a view's template for "
        "`import-video --template NAME=PNG`. Without --box the whole frame is written, to find the box in.",
        project=None,
    )
    p.add_argument("video", help="the video file (mp4, avi, mkv)")
    p.add_argument("--frame", type=int, required=True, metavar="N", help="frame index (0 = the first)")
    p.add_argument("--box", type=_box_arg, default=None, metavar="X,Y,W,H", help="the region in pixels")
    p.add_argument("--out", required=True, help="the PNG to write")
    p.add_argument("--overwrite", action="store_true", help="replace an existing image at --out")

    p = add_verb(
        subparsers, "import-dataset", cmd_import_dataset, help="import an MVTec-layout folder (with GT masks)"
    )
    p.add_argument("dir", help="the dataset folder (train/good, test/<type>, ground_truth/<type>)")
    p.add_argument("--view", default=None, help="view name for the samples (default: the folder name)")
    p.add_argument(
        "--layout",
        choices=("mvtec", "loco"),
        default="mvtec",
        help="mvtec: MVTec AD (ground_truth/<type>/<stem>_mask.png); loco: MVTec LOCO / AutoVI "
        "(validation/good, ground_truth/<type>/<stem>/*.png, defects_config.json)",
    )

    p = add_verb(
        subparsers, "export-dataset", cmd_export_dataset, help="write samples as an MVTec-layout folder"
    )
    p.add_argument("out", help="the folder to write (must not exist or be empty)")
    p.add_argument("--view", default=None, help="export only this view")


def _forced_rule(args: argparse.Namespace) -> PassRule | None:
    """The presence rule when any presence flag is given (it overrides the calibration), else None."""
    given = {k: getattr(args, k) for k in ("presence_high", "presence_low", "min_pass", "min_gap")}
    if all(v is None for v in given.values()):
        return None
    d = PassRule()
    return PassRule(
        high=given["presence_high"] if given["presence_high"] is not None else d.high,
        low=given["presence_low"]
        if given["presence_low"] is not None
        else min(d.low, given["presence_high"] or d.low),
        min_pass=given["min_pass"] if given["min_pass"] is not None else d.min_pass,
        min_gap=given["min_gap"] if given["min_gap"] is not None else d.min_gap,
    )


def rule_lines(rule) -> list[str]:
    """The pass rule in words: what it is and why (calibrated) or the forced thresholds."""
    if isinstance(rule, TrackRule):
        return (
            ["pass rule calibrated from the video (flags override it):"]
            + [f"  {x}" for x in rule.summary()]
            + ["  why:"]
            + [f"    - {x}" for x in rule.reasons]
        )
    return [
        f"pass rule forced by flags: presence ({rule.statistic}) starts a pass at {rule.high:g} and ends it below "
        f"{rule.low:g}; passes of at least {rule.min_pass} frames, gaps of at least {rule.min_gap}"
    ]


def cmd_import_video(args: argparse.Namespace) -> int:
    info = probe(args.video)
    sampling = frame_range(info["fps"], start_s=args.start, end_s=args.end, every=args.every)
    rule = _forced_rule(args)
    templates, origins = {}, {}
    for name, path in args.template:
        if name in templates:
            raise ValueError(f"view '{name}' is given twice in --template")
        templates[name] = read_image(path).image
        origin = read_origin(path, args.video)
        if origin is not None:
            origins[name] = origin
    with Project.open(args.project, lock=True) as project:
        with terminal_progress("import-video") as (progress, cancel):
            result = import_video(
                project, args.video, templates or None, args.match_threshold, args.window, sampling, rule,
                args.top_k, origins=origins, progress=progress, cancel=cancel,
            )  # fmt: skip
        if args.label != "unknown" and result.sample_ids:
            project.update_samples(result.sample_ids, label=args.label)
        project.save()
    counts = {k: sum(r.status == k for r in result.records) for k in ("ok", "partial", "suspect")}
    if args.json:
        doc = {
            "source": result.source,
            "samples": len(result.sample_ids),
            "passes": [r.to_dict() for r in result.records],
            "counts": counts,
            "suspect": [r.to_dict() for r in result.suspects],
            "partial": [r.to_dict() for r in result.records if r.status == "partial"],
            "skipped_partial_parts": result.skipped,
            "rule": result.rule.to_dict() if result.rule is not None else None,
            "rule_text": rule_lines(result.rule) if result.rule is not None else [],
            "warnings": list(result.warnings),
        }
        print(json.dumps(doc))
        return 0
    for line in rule_lines(result.rule):
        print(line)
    print(
        f"source {result.source}: {len(result.passes)} passes, {len(result.sample_ids)} samples "
        f"({counts['ok']} ok, {counts['partial']} partial, {counts['suspect']} suspect)"
    )
    doubtful = [r for r in result.records if r.status != "ok"]
    if doubtful:
        print(f"{len(doubtful)} pass{'es' if len(doubtful) > 1 else ''} to look at:")
        for r in doubtful:
            print(f"  {r.describe()}")
    return 0


def cmd_template(args: argparse.Namespace) -> int:
    check_image_target(Path(args.out), args.overwrite)
    with VideoReader(args.video) as reader:
        frame = reader.read(args.frame)
    height, width = frame.shape[:2]
    x, y, w, h = args.box or (0, 0, width, height)
    if x + w > width or y + h > height:
        raise ValueError(
            f"box {x},{y},{w},{h} reaches outside frame {args.frame} of {reader.name} ({width}x{height} px)"
        )
    if Path(args.out).suffix.lower() == ".png":  # the PNG remembers where it was cut (its view's home)
        Path(args.out).write_bytes(
            png_with_origin(frame[y : y + h, x : x + w], args.frame, x, y, reader.name)
        )
    else:
        write_image(args.out, frame[y : y + h, x : x + w])
    print(f"wrote {args.out}: {w}x{h} px from frame {args.frame} of {reader.name} at {x},{y}")
    return 0


def cmd_import_dataset(args: argparse.Namespace) -> int:
    with Project.open(args.project, lock=True) as project:
        with terminal_progress("import-dataset") as (progress, cancel):
            result = import_dataset(
                project, args.dir, args.view, progress=progress, cancel=cancel, layout=args.layout
            )
        project.save()
    counts = ", ".join(f"{k} {n}" for k, n in sorted(result.counts.items()))
    print(f"source {result.source}, view '{result.view}': {len(result.sample_ids)} samples ({counts})")
    return 0


def cmd_export_dataset(args: argparse.Namespace) -> int:
    with Project.open(args.project) as project:
        with terminal_progress("export-dataset") as (progress, cancel):
            result = export_dataset(project, args.out, args.view, progress=progress, cancel=cancel)
    c = result.counts
    print(
        f"wrote {c['images']} images and {c['masks']} masks to {result.out} ({c['copied']} copied unchanged)"
    )
    return 0
