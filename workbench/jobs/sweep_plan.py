"""What a sweep is: models x parameter grid x training-set sizes x windows x seeds, each combination a
*cell* that trains one run per view exactly as ``workbench train`` would, and the presets of the seeds'
protocols (seed 001: models x 5 seeds with robustness and the knee; seed 003: few-shot curve and the
window-size study).

A sweep's identity is a hash of its specification, so the same command on the same project finds its
record (``project.meta["sweeps"][id]``) and continues where it stopped.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any

PRESETS = ("seed001", "fewshot", "window")
FEWSHOT_SIZES = (1, 2, 5, 10, 20, 50)  # seed 003, section 6.3
WINDOW_FRACTIONS = (0.5, 0.75, 1.0)  # share of each view's crop side, centred (seed 003, section 6.2)
PRESET_SEEDS = {"seed001": (0, 1, 2, 3, 4), "fewshot": (0, 1, 2, 3, 4), "window": (0, 1, 2, 3, 4)}
PRESET_MODELS = {"fewshot": ("patchcore",), "window": ("patchcore",)}  # seed 003 used PatchCore for few-shot


def parse_seeds(text: str) -> list[int]:
    """'0-4' -> [0, 1, 2, 3, 4]; '0,3,7' and '0-2,9' work too."""
    seeds: list[int] = []
    for part in str(text).split(","):
        part = part.strip()
        m = re.fullmatch(r"(\d+)\s*-\s*(\d+)", part)
        if m:
            a, b = int(m.group(1)), int(m.group(2))
            if b < a:
                raise ValueError(f"--seeds: range {part!r} runs backwards; write {b}-{a}")
            seeds.extend(range(a, b + 1))
        elif part.isdigit():
            seeds.append(int(part))
        else:
            raise ValueError(f"--seeds: expected numbers and ranges such as 0-4 or 0,3,7; found {part!r}")
    if not seeds:
        raise ValueError("--seeds: no seed given")
    return list(dict.fromkeys(seeds))


def _json_or_text(value: str) -> Any:
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


def _split_top(text: str) -> list[str]:
    """Split on commas outside brackets and quotes: 'a,[1, 2],"x,y"' -> ['a', '[1, 2]', '"x,y"']."""
    parts, depth, quote, start = [], 0, "", 0
    for i, ch in enumerate(text):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def parse_grid(items: list[str]) -> dict[str, list[Any]]:
    """['coreset_ratio=0.01,0.1', 'layers=["layer2"];["layer2","layer3"]'] -> {key: [values]}.

    Values are split on ';' when one is present, else on the commas outside brackets and quotes
    (``layers=["layer2","layer3"]`` is one value); each value is JSON when it parses, else a string.
    """
    grid: dict[str, list[Any]] = {}
    for item in items:
        key, sep, values = item.partition("=")
        key = key.strip()
        if not sep or not key or not values.strip():
            raise ValueError(f"--grid: expected KEY=V1,V2,...; found {item!r}")
        parts = values.split(";") if ";" in values else _split_top(values)
        grid[key] = [_json_or_text(v.strip()) for v in parts if v.strip()]
    return grid


def parse_window(text: str) -> float | list[int]:
    """'0.5' (share of the crop side) or '200x160' (width x height in pixels)."""
    m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if m:
        return [int(m.group(2)), int(m.group(1))]  # stored as [h, w]
    try:
        f = float(text)
    except ValueError:
        raise ValueError(
            f"--window: expected a share such as 0.5 or a size such as 200x160; found {text!r}"
        ) from None
    if not 0.05 <= f <= 1.0:
        raise ValueError(f"--window: a share of the crop must lie in [0.05, 1]; found {f}")
    return f


@dataclass
class SweepSpec:
    """Everything that defines a sweep (and its id). ``budget_s`` is each cell's training time budget
    (``time_budget_s`` of the models that take one); ``n_train`` the few-shot sizes; ``windows``
    shares of the crop side or [h, w] pixel sizes; ``robustness`` runs the five augmentations."""

    models: list[str]
    seeds: list[int]
    grid: dict[str, list[Any]] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    views: list[str] | None = None
    budget_s: float | None = None
    n_train: list[int] | None = None
    windows: list[Any] | None = None
    robustness: bool = False
    device: str | None = None
    preset: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> SweepSpec:
        return cls(**d)

    @property
    def id(self) -> str:
        text = json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"))
        return "sweep-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:10]


def apply_preset(
    preset: str | None,
    models: list[str],
    seeds: list[int] | None,
    n_train: list[int] | None = None,
    windows: list[Any] | None = None,
    all_models: list[str] | None = None,
) -> dict[str, Any]:
    """Fill what a preset implies and the user left out: {'models', 'seeds', 'n_train', 'windows', 'robustness'}."""
    if preset is not None and preset not in PRESETS:
        raise ValueError(f"--preset: unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    out: dict[str, Any] = {
        "models": list(models),
        "seeds": seeds,
        "n_train": n_train,
        "windows": windows,
        "robustness": False,
    }
    if preset is None:
        if not models:
            raise ValueError("sweep: name at least one --model (or use a --preset)")
        out["seeds"] = seeds or [0]
        return out
    if not models:
        out["models"] = list(PRESET_MODELS.get(preset) or all_models or [])
    out["seeds"] = seeds or list(PRESET_SEEDS[preset])
    if preset == "seed001":
        out["robustness"] = True
    elif preset == "fewshot":
        out["n_train"] = n_train or list(FEWSHOT_SIZES)
    elif preset == "window":
        out["windows"] = windows or list(WINDOW_FRACTIONS)
    return out


@dataclass(frozen=True)
class Cell:
    """One combination: trains ``model`` with ``params`` on every view in ``views`` (one run each)."""

    index: int
    model: str
    seed: int
    params: dict[str, Any]
    views: tuple[str, ...] | None
    n_train: int | None = None
    window: Any = None
    varying: tuple[str, ...] = ()  # the grid's parameters: the ones a label names

    @property
    def key(self) -> str:
        d = {
            "model": self.model,
            "seed": self.seed,
            "params": self.params,
            "n_train": self.n_train,
            "window": self.window,
        }
        return json.dumps(d, sort_keys=True, separators=(",", ":"))

    def _extras(self) -> list[str]:
        extra = [f"{k}={json.dumps(self.params[k])}" for k in self.varying if k in self.params]
        if self.n_train is not None:
            extra.append(f"n_train={self.n_train}")
        if self.window is not None:
            extra.append(f"window={window_text(self.window)}")
        return extra

    @property
    def group(self) -> str:
        """The cell's configuration without its seed: runs of one group differ only by seed."""
        extra = self._extras()
        return self.model + (f" ({', '.join(extra)})" if extra else "")

    @property
    def label(self) -> str:
        extra = self._extras()
        return f"{self.model} seed {self.seed}" + (f" ({', '.join(extra)})" if extra else "")


def window_text(window: Any) -> str:
    return f"{window[1]}x{window[0]}" if isinstance(window, list | tuple) else f"{float(window):g}"


def expand(spec: SweepSpec, defaults: dict[str, dict[str, Any]]) -> list[Cell]:
    """Every cell of ``spec`` in a stable order; ``defaults`` maps each model to its parameter defaults.

    A grid key applies to the models that have that parameter; a key no model has is an error.
    """
    if not spec.models:
        raise ValueError("sweep: no model to run")
    unknown_models = [m for m in spec.models if m not in defaults]
    if unknown_models:
        raise ValueError(f"sweep: unknown model {unknown_models[0]!r}; known: {', '.join(sorted(defaults))}")
    for key in list(spec.grid) + list(spec.params):
        if not any(key in defaults[m] for m in spec.models):
            raise ValueError(
                f"sweep: no chosen model has a parameter {key!r} "
                f"(the models: {', '.join(spec.models)}; see `workbench models`)"
            )
    cells: list[Cell] = []
    views = tuple(spec.views) if spec.views else None
    for model in spec.models:
        known = defaults[model]
        fixed = {k: v for k, v in spec.params.items() if k in known}
        if spec.budget_s is not None and "time_budget_s" in known:
            fixed["time_budget_s"] = float(spec.budget_s)
        if spec.device is not None and "device" in known:
            fixed["device"] = spec.device
        keys = [k for k in spec.grid if k in known]
        varying = tuple(k for k in keys if len(spec.grid[k]) > 1)  # one-value keys act as fixed params
        for combo in itertools.product(*(spec.grid[k] for k in keys)):
            params = {**fixed, **dict(zip(keys, combo))}
            for n in spec.n_train or [None]:
                for w in spec.windows or [None]:
                    for seed in spec.seeds:
                        cells.append(Cell(len(cells), model, int(seed), params, views, n, w, varying))
    return cells
