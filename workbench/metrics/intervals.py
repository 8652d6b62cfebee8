"""95 % intervals for rates (FPR, FNR, recall, precision) and the small-validation flag.

A rate measured on few samples is a guess: 0 false alarms out of 9 normals still allows a false-alarm
rate of about 30 %. Every rate the workbench shows at a policy carries an interval of a binomial
proportion computed by ``scipy.stats.binomtest(k, n).proportion_ci``:

- ``"wilson"`` (the default, :data:`INTERVAL_METHOD`): the Wilson score interval without continuity
  correction. Its coverage stays close to the nominal 95 % for small n and rates near 0 or 1, where the
  textbook normal ("Wald") interval collapses to a point.
- ``"clopper-pearson"``: the exact interval (scipy's ``"exact"``), never below 95 % coverage, wider.

Both are two-sided 95 % intervals; a rate of 0 (or 1) gives a lower (upper) end at exactly 0 (1), so the
text reads "FPR 0.00, <= 0.30 at 95 % from 9 normals".

A policy fitted on fewer than :data:`SMALL_VALIDATION_NORMALS` normal samples is flagged wherever it is
shown; ``export`` refuses fewer than :data:`MIN_EXPORT_NORMALS` unless told to accept them.
"""

from __future__ import annotations

from dataclasses import dataclass

from scipy import stats

#: The interval every rate carries unless a caller asks for the other one.
INTERVAL_METHOD = "wilson"
#: Two-sided confidence level of every interval.
CONFIDENCE = 0.95
#: A threshold resting on fewer normal samples than this is flagged as a small validation.
SMALL_VALIDATION_NORMALS = 20
#: ``export`` refuses a view whose threshold rests on fewer normals than this (``--accept-small-validation``).
MIN_EXPORT_NORMALS = 5

_SCIPY_METHOD = {"wilson": "wilson", "clopper-pearson": "exact"}
METHOD_LABEL = {"wilson": "Wilson score", "clopper-pearson": "Clopper-Pearson exact"}


def _check_counts(k, n) -> tuple[int, int]:
    if isinstance(k, bool) or isinstance(n, bool) or int(k) != k or int(n) != n:
        raise ValueError(f"rate: expected whole counts k of n, found k={k!r}, n={n!r}")
    k, n = int(k), int(n)
    if n < 0 or not 0 <= k <= max(n, 0):
        raise ValueError(f"rate: expected 0 <= k <= n, found k={k}, n={n}")
    return k, n


def proportion_interval(
    k: int, n: int, method: str = INTERVAL_METHOD, confidence: float = CONFIDENCE
) -> tuple[float, float]:
    """Return (low, high) of the two-sided interval of the proportion k / n.

    ``method`` is ``"wilson"`` or ``"clopper-pearson"``. With n = 0 nothing is known: (0.0, 1.0).
    """
    if method not in _SCIPY_METHOD:
        raise ValueError(f"interval method: expected one of {sorted(_SCIPY_METHOD)}, found {method!r}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence: expected a value in (0, 1), found {confidence}")
    k, n = _check_counts(k, n)
    if n == 0:
        return 0.0, 1.0
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=confidence, method=_SCIPY_METHOD[method])
    # Clamp float noise so that a rate of 0 reads "<= high" and a rate of 1 reads ">= low" exactly.
    low = 0.0 if k == 0 else min(max(float(ci.low), 0.0), k / n)
    high = 1.0 if k == n else max(min(float(ci.high), 1.0), k / n)
    return low, high


@dataclass(frozen=True)
class Rate:
    """A rate k / n with its interval; ``value`` is None when n = 0 (the rate is undefined)."""

    k: int
    n: int
    low: float
    high: float
    method: str = INTERVAL_METHOD
    confidence: float = CONFIDENCE

    @property
    def value(self) -> float | None:
        return self.k / self.n if self.n else None

    def to_dict(self) -> dict:
        """The JSON form used by ``eval --json``: value, k, n, ci_low, ci_high, ci_method."""
        return {
            "value": self.value,
            "k": self.k,
            "n": self.n,
            "ci_low": self.low,
            "ci_high": self.high,
            "ci_method": self.method,
            "ci_level": self.confidence,
        }


def rate(k: int, n: int, method: str = INTERVAL_METHOD, confidence: float = CONFIDENCE) -> Rate:
    """Return the rate k / n with its two-sided interval (Wilson unless ``method`` says otherwise)."""
    k, n = _check_counts(k, n)
    low, high = proportion_interval(k, n, method, confidence)
    return Rate(k, n, low, high, method, confidence)


def is_small_validation(n_normals: int) -> bool:
    """True when a threshold rests on fewer than :data:`SMALL_VALIDATION_NORMALS` normal samples."""
    return int(n_normals) < SMALL_VALIDATION_NORMALS


def small_validation_text(n_normals: int) -> str:
    """Return the flag shown beside a policy, e.g. "small validation: 9 normals (< 20)", or "" if none."""
    if not is_small_validation(n_normals):
        return ""
    return f"small validation: {int(n_normals)} normals (< {SMALL_VALIDATION_NORMALS})"


def _pct(confidence: float) -> str:
    return f"{confidence * 100:g} %"


def interval_text(r: Rate, digits: int = 2) -> str:
    """Return the interval alone: "<= 0.30", ">= 0.70" or "0.05-0.25" (at the rate's confidence)."""
    if r.n == 0:
        return "no samples"
    if r.k == 0:
        return f"<= {r.high:.{digits}f}"
    if r.k == r.n:
        return f">= {r.low:.{digits}f}"
    return f"{r.low:.{digits}f}-{r.high:.{digits}f}"


def format_rate(
    name: str, k: int, n: int, unit: str = "normals", digits: int = 2, method: str = INTERVAL_METHOD
) -> str:
    """Return e.g. "FPR 0.00, <= 0.30 at 95 % from 9 normals" or "recall 0.80, 0.49-0.94 at 95 % from 10 defects".

    ``unit`` names what n counts (normals, defects, flagged samples).
    """
    r = rate(k, n, method)
    if n == 0:
        return f"{name} n/a, no {unit}"
    return f"{name} {r.value:.{digits}f}, {interval_text(r, digits)} at {_pct(r.confidence)} from {n} {unit}"


def confusion_rates(tp: int, fp: int, tn: int, fn: int, method: str = INTERVAL_METHOD) -> dict[str, Rate]:
    """{"precision", "recall", "fpr", "fnr"} of sample counts, each a :class:`Rate` with its interval.

    precision = TP / (TP + FP), recall = TP / (TP + FN), FPR = FP / (FP + TN), FNR = FN / (FN + TP);
    a rate over no sample has ``value`` None and the interval (0, 1).
    """
    return {
        "precision": rate(tp, tp + fp, method),
        "recall": rate(tp, tp + fn, method),
        "fpr": rate(fp, fp + tn, method),
        "fnr": rate(fn, fn + tp, method),
    }
