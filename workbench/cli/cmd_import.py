"""`workbench import-video|import-dataset|export-dataset|template`: bring images into a project and back out;
cut a view's template from a frame of a video."""

from __future__ import annotations

import argparse
import logging
import re
from pathlib import Path

from workbench.cli.overwrite import check_image_target
from workbench.cli.progress import terminal_progress
from workbench.io.images import read_image, write_image
from workbench.io.passes import PassRule
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
    p = subparsers.add_parser("import-video", help="add a video: one sample per part pass and view")
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
        help="minimum normalized cross-correlation for a match (default: the view's, 0.6)",
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
        default=PassRule.high,
        metavar="H",
        help="presence level that starts a pass (mean grey-level difference to the empty conveyor)",
    )
    p.add_argument(
        "--presence-low",
        type=float,
        default=PassRule.low,
        metavar="L",
        help="presence level below which a pass ends",
    )
    p.add_argument("--min-pass", type=int, default=PassRule.min_pass, help="shortest pass in frames")
    p.add_argument(
        "--min-gap", type=int, default=PassRule.min_gap, help="shortest gap between passes in frames"
    )
    p.add_argument(
        "--label",
        choices=("unknown", "good", "defective"),
        default="unknown",
        help="label every new sample (e.g. 'good' for a video of normal production; default unknown)",
    )
    p.set_defaults(func=cmd_import_video)

    p = subparsers.add_parser(
        "template",
        help="cut a view's template (or a whole frame) from a video frame as a PNG",
        description="Write frame N of a video, or the box X,Y,W,H of it, as a PNG: a view's template for "
        "`import-video --template NAME=PNG`. Without --box the whole frame is written, to find the box in.",
    )
    p.add_argument("video", help="the video file (mp4, avi, mkv)")
    p.add_argument("--frame", type=int, required=True, metavar="N", help="frame index (0 = the first)")
    p.add_argument("--box", type=_box_arg, default=None, metavar="X,Y,W,H", help="the region in pixels")
    p.add_argument("--out", required=True, help="the PNG to write")
    p.add_argument("--overwrite", action="store_true", help="replace an existing image at --out")
    p.set_defaults(func=cmd_template)

    p = subparsers.add_parser("import-dataset", help="import an MVTec-layout folder (with GT masks)")
    p.add_argument("project", help="the project file (.awb)")
    p.add_argument("dir", help="the dataset folder (train/good, test/<type>, ground_truth/<type>)")
    p.add_argument("--view", default=None, help="view name for the samples (default: the folder name)")
    p.add_argument(
        "--layout",
        choices=("mvtec", "loco"),
        default="mvtec",
        help="mvtec: MVTec AD (ground_truth/<type>/<stem>_mask.png); loco: MVTec LOCO / AutoVI "
        "(validation/good, ground_truth/<type>/<stem>/*.png, defects_config.json)",
    )
    p.set_defaults(func=cmd_import_dataset)

    p = subparsers.add_parser("export-dataset", help="write samples as an MVTec-layout folder")
    p.add_argument("project", help="the project file (.awb)")
    p.add_argument("out", help="the folder to write (must not exist or be empty)")
    p.add_argument("--view", default=None, help="export only this view")
    p.set_defaults(func=cmd_export_dataset)


def cmd_import_video(args: argparse.Namespace) -> int:
    info = probe(args.video)
    sampling = frame_range(info["fps"], start_s=args.start, end_s=args.end, every=args.every)
    rule = PassRule(
        high=args.presence_high, low=args.presence_low, min_pass=args.min_pass, min_gap=args.min_gap
    )
    templates = {}
    for name, path in args.template:
        if name in templates:
            raise ValueError(f"view '{name}' is given twice in --template")
        templates[name] = read_image(path).image
    with Project.open(args.project, lock=True) as project:
        with terminal_progress("import-video") as (progress, cancel):
            result = import_video(
                project,
                args.video,
                templates or None,
                args.match_threshold,
                args.window,
                sampling,
                rule,
                args.top_k,
                progress=progress,
                cancel=cancel,
            )
        if args.label != "unknown" and result.sample_ids:
            project.update_samples(result.sample_ids, label=args.label)
        project.save()
    print(f"source {result.source}: {len(result.passes)} passes, {len(result.sample_ids)} samples")
    if result.unmatched:
        print(f"{len(result.unmatched)} pass/view pairs had no match (see warnings above)")
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
