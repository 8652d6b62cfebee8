"""The steps of a station in order, as the step bar shows them, and the side panels each one opens with."""

from __future__ import annotations

from dataclasses import dataclass

# Side panels the window can fold in beside any step: the project tree, the video, the picture of the
# selected sample. The Station step holds all three in its own workspace.
SIDE_PANELS = {"tree": "Station tree", "video": "Video", "inspector": "Inspector"}


@dataclass(frozen=True)
class Step:
    key: str
    title: str
    summary: str  # one line: what the user does in this step
    sides: tuple[str, ...] = ()  # side panels shown with the step until the user changes that


STEPS: tuple[Step, ...] = (
    Step("station", "Station", "The project: its tree, its video and the picture of what is selected."),
    Step("import", "Import", "Bring in videos or a camera, sample frames and find the passes."),
    Step("views", "Views", "Cut a template per view, place the crop window, paint the ROI and zones."),
    Step("samples", "Samples", "Browse the samples, set labels and splits, paint ground-truth masks."),
    Step(
        "synthesis",
        "Synthesis",
        "Add synthetic defects with exact masks to validate and test on (never to train).",
    ),
    Step("train", "Train", "Pick a model and its parameters and train it on the local GPU or CPU."),
    Step("compare", "Compare", "Put the heatmaps of several runs side by side, each against its threshold."),
    Step("thresholds", "Thresholds", "Set thresholds with live TP/FP/TN/FN counts and see what changes."),
    Step("export", "Export", "Write a line bundle: a run and a policy per view, checked for parity."),
    Step("line", "Line", "Run a bundle on a video as the line would: OK/NG per part, suspect passes."),
    Step("report", "Report", "Write a report of the station, its runs and its verdicts."),
)


def step(key: str) -> Step:
    for s in STEPS:
        if s.key == key:
            return s
    raise KeyError(f"no step named {key!r}; known: {', '.join(s.key for s in STEPS)}")
