"""The set-up steps of a station in order, as the toolbar shows them; a step without a pane is 'coming'."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Step:
    key: str
    title: str
    summary: str  # one line: what the user does in this step
    built: bool = False


STEPS: tuple[Step, ...] = (
    Step(
        "station", "Station", "The project: sources, views, samples, runs, results and policies.", built=True
    ),
    Step("import", "Import", "Bring in videos or a camera, sample frames and find the passes.", built=True),
    Step(
        "views",
        "Views",
        "Cut a template per view, place the crop window, paint the ROI and zones.",
        built=True,
    ),
    Step(
        "samples",
        "Samples",
        "Browse the samples, set labels and splits, paint ground-truth masks.",
        built=True,
    ),
    Step(
        "synthesis",
        "Synthesis",
        "Add synthetic defects with exact masks to validate and test on (never to train).",
        built=True,
    ),
    Step(
        "train", "Train", "Pick a model and its parameters and train it on the local GPU or CPU.", built=True
    ),
    Step(
        "compare", "Compare", "Put the heatmaps of several runs side by side on one colour scale.", built=True
    ),
    Step(
        "thresholds",
        "Thresholds",
        "Set thresholds with live TP/FP/TN/FN counts and see what changes.",
        built=True,
    ),
    Step("report", "Report", "Write a report of the station, its runs and its verdicts.", built=True),
)


def step(key: str) -> Step:
    for s in STEPS:
        if s.key == key:
            return s
    raise KeyError(f"no set-up step named {key!r}; known: {', '.join(s.key for s in STEPS)}")
