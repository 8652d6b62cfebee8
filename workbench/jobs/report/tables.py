"""HTML tables for the report: cells from numbers, mean +- std and "n/a" whose reasons become footnotes."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

from workbench.jobs.evaluate_metrics import NA


class Notes:
    """Numbered footnotes for the "n/a" cells of one table: each distinct reason gets one number."""

    def __init__(self) -> None:
        self.reasons: list[str] = []

    def mark(self, reason: str) -> str:
        if reason not in self.reasons:
            self.reasons.append(reason)
        k = self.reasons.index(reason) + 1
        return f'<span class="na">n/a<sup>{k}</sup></span>'

    def html(self) -> str:
        if not self.reasons:
            return ""
        items = "".join(f"<li>{html.escape(r)}</li>" for r in self.reasons)
        return f'<ol class="notes">{items}</ol>'


def esc(text: Any) -> str:
    return html.escape(str(text))


def number(v: Any, notes: Notes, pct: bool = False, digits: int = 3) -> str:
    """One cell: a number (x100 with one decimal when ``pct``), or n/a with a footnote."""
    if isinstance(v, NA):
        return notes.mark(v.reason)
    if isinstance(v, dict) and "na" in v:
        return notes.mark(str(v["na"]))
    if v is None:
        return notes.mark("not recorded")
    if isinstance(v, str):
        return esc(v)
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return str(v)
    x = float(v)
    if math.isfinite(x) and abs(x) < 1e-12:
        x = 0.0  # rounding noise of a difference of equal means
    if not math.isfinite(x):
        return "+inf" if x > 0 else ("-inf" if x < 0 else notes.mark("not a number"))
    if pct:
        return f"{100 * x:.1f}"
    if x != 0 and (abs(x) >= 1e4 or abs(x) < 1e-3):
        return f"{x:.{digits}g}"
    return f"{x:.{digits}g}" if abs(x) >= 100 else f"{x:.{digits}f}".rstrip("0").rstrip(".") or "0"


def mean_std(v: Any, notes: Notes, pct: bool = True) -> str:
    """'mean ± std' of a summary dict (``n of m`` shown when some runs had no value), or n/a."""
    if isinstance(v, NA):
        return notes.mark(v.reason)
    scale = 100.0 if pct else 1.0
    digits = 1 if pct else 2
    text = f"{fixed_text(scale * v['mean'], digits)} ± {fixed_text(scale * v['std'], digits)}"
    if v["n"] < v["of"]:
        text += f' <span class="dim">({v["n"]} of {v["of"]} runs)</span>'
    return text


def fixed_text(x: float, digits: int) -> str:
    """Fixed decimals without a '-0.0'."""
    text = f"{x:.{digits}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def fixed(v: Any, notes: Notes, digits: int = 1) -> str:
    """A number with fixed decimals (timings), or n/a with a footnote."""
    if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v):
        return fixed_text(float(v), digits)
    return number(v, notes)


def table(
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    notes: Notes | None = None,
    caption: str = "",
    numeric_from: int = 1,
    classes: str = "",
) -> str:
    """An HTML table from already formatted cells (header cells are escaped, body cells are HTML)."""
    head = "".join(
        f'<th class="{"num" if i >= numeric_from else "key"}">{esc(h)}</th>' for i, h in enumerate(header)
    )
    body = []
    for row in rows:
        cells = "".join(
            f'<td class="{"num" if i >= numeric_from else "key"}">{c}</td>' for i, c in enumerate(row)
        )
        body.append(f"<tr>{cells}</tr>")
    cap = f"<caption>{caption}</caption>" if caption else ""
    foot = notes.html() if notes else ""
    return (
        f'<div class="table-wrap"><table class="{classes}">{cap}<thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>{foot}</div>"
    )


def best_flags(summaries: Sequence[Any], higher_is_better: bool = True) -> list[bool]:
    """Which summaries hold the best mean (bold in seed 000's tables); n/a never wins."""
    # Rounded: equal seeds' values can differ in the last bits after averaging.
    means = [round(s["mean"], 9) if isinstance(s, dict) else None for s in summaries]
    valid = [m for m in means if m is not None]
    if len(valid) < 2:
        return [False] * len(means)
    best = max(valid) if higher_is_better else min(valid)
    if all(m == best for m in valid):
        return [False] * len(means)  # a tie everywhere singles nothing out
    return [m is not None and m == best for m in means]


def bold(cell: str, flag: bool) -> str:
    return f"<strong>{cell}</strong>" if flag else cell
