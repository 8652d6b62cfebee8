"""Nothing is overwritten without asking: checks commands run on their output before any work.

Without ``--overwrite`` an existing output is refused; with it, only an output of the same kind is replaced
(a project by a project, an image by an image, a demo folder by a demo), never someone else's file.
Project files are checked by :func:`workbench.project.Project.create` and ``pack`` themselves.
"""

from __future__ import annotations

from pathlib import Path

from workbench.cli.main import CliError

_IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"BM", b"II*\x00", b"MM\x00*", b"RIFF")
# what `workbench demo` writes into its folder (jobs/demo.py, synth/demo/render.py)
DEMO_ENTRIES = {
    "demo.mp4", "templates", "views", "views.json", "masks", "truth.json", "station.awb", "station.awb.d",
    "station.awb.lock", "contact_sheet.png",
}  # fmt: skip


def _is_image(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            head = f.read(12)
    except OSError:
        return False
    return any(head.startswith(m) for m in _IMAGE_MAGIC)


def check_image_target(path: Path, overwrite: bool, option: str = "--out") -> None:
    """Refuse to write an image over an existing file unless ``overwrite``, and then only over an image."""
    if not path.parent.is_dir():
        raise CliError(f"{option} {path}: the folder {path.parent} does not exist")
    if not (path.exists() or path.is_symlink()):
        return
    if path.is_dir():
        raise CliError(f"{option} {path} is a folder; give an image file name")
    if not overwrite:
        raise CliError(f"{path} already exists; choose another {option} or add --overwrite to replace it")
    if not _is_image(path):
        raise CliError(
            f"{path} exists and is not an image; --overwrite replaces only images (choose another {option})"
        )


def check_demo_target(out: Path, overwrite: bool) -> None:
    """The demo writes a whole folder: refuse a non-empty one unless ``overwrite``, and then only a demo's."""
    if not out.exists():
        return
    if not out.is_dir():
        raise CliError(f"--out {out} is a file; the demo writes a folder")
    entries = sorted(p.name for p in out.iterdir())
    if not entries:
        return
    if not overwrite:
        what = "a station project" if "station.awb" in entries else f"{len(entries)} entries"
        raise CliError(
            f"{out} already holds {what}; choose another --out or add --overwrite to replace the demo in it"
        )
    foreign = [
        e for e in entries if e not in DEMO_ENTRIES and not e.startswith((".building.awb", "station.awb."))
    ]
    if foreign:
        raise CliError(
            f"{out} holds files the demo does not write (first: {foreign[0]}); --overwrite replaces only a "
            "demo folder: choose another --out"
        )
    station = out / "station.awb"
    if station.exists():
        from workbench.project.project import refuse_unless_project

        refuse_unless_project(station, "replace")
