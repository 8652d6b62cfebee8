"""`workbench gui [P] [--demo]`: open the workbench window (or, with no display, say so and summarize)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from workbench.cli.verbs import add_verb
from workbench.core.paths import default_demo_dir, has_display


def register(sub: argparse._SubParsersAction) -> None:
    p = add_verb(sub, "gui", run, help="open the workbench window", description=__doc__, project=None)
    p.add_argument("project", nargs="?", help="project file (.awb) to open")
    p.add_argument(
        "--demo", action="store_true", help="open the built-in demo station, building it first when absent"
    )
    p.add_argument(
        "--demo-dir",
        type=Path,
        default=None,
        help=f"where the demo station lives (default: {default_demo_dir()})",
    )
    p.add_argument("--screenshot", metavar="PNG", help="save a screenshot of the window and exit")


def _ensure_demo(demo_dir: Path) -> Path:
    """The ready demo station (trained runs, a policy), built first when absent or made by an older recipe."""
    from workbench.jobs.demo_recipe import ready_demo

    station = ready_demo(demo_dir)
    if station is not None:
        return station
    from workbench.cli.progress import terminal_progress
    from workbench.jobs.demo import build_ready_demo

    print(
        f"building the demo station in {demo_dir} (once; about two minutes: PatchCore and PaDiM are trained)",
        file=sys.stderr,
    )
    with terminal_progress("demo station") as (progress, cancel):
        result = build_ready_demo(demo_dir, progress=progress, cancel=cancel)
    return Path(result.project_path)


def _write_summary(project_path: Path) -> Path:
    from workbench.cli.cmd_project import format_summary
    from workbench.project import Project

    with Project.open(project_path) as project:
        summary = project.summary()
    out = project_path.with_name(project_path.stem + "_summary.txt")
    out.write_text(format_summary(summary).rstrip("\n") + "\n")
    return out


def run(args: argparse.Namespace) -> int:
    project: Path | None = Path(args.project) if args.project else None
    if args.demo:
        if project is not None:
            raise ValueError("give either a project file or --demo, not both")
        project = _ensure_demo(args.demo_dir or default_demo_dir())
    if project is not None and not project.exists():
        raise FileNotFoundError(f"project file not found: {project}")
    if not has_display() and not args.screenshot:
        where = f"; the station is {project}" if project else ""
        summary = _write_summary(project) if project else None
        tail = f", summary in {summary}" if summary else ""
        print(f"no display found (DISPLAY is not set): the window cannot open{where}{tail}")
        if summary:
            print(summary.read_text(), end="")
        return 0
    try:
        from workbench.gui.app import run as run_gui
    except ImportError as exc:
        raise RuntimeError(
            f"the GUI needs the 'gui' extra ({exc.name or exc}); install it with "
            "`pip install 'anomaly-workbench[gui]'` or run scripts/setup.sh"
        ) from exc
    return run_gui(str(project) if project else None, screenshot=args.screenshot)
