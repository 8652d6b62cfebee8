"""Rate intervals agree with statsmodels' proportion_confint and read as a line engineer expects."""

from __future__ import annotations

import numpy as np
import pytest
from statsmodels.stats.proportion import proportion_confint

from workbench.metrics.intervals import (
    INTERVAL_METHOD,
    MIN_EXPORT_NORMALS,
    SMALL_VALIDATION_NORMALS,
    format_rate,
    is_small_validation,
    proportion_interval,
    rate,
    small_validation_text,
)

_SM = {"wilson": "wilson", "clopper-pearson": "beta"}


@pytest.mark.parametrize("method", ["wilson", "clopper-pearson"])
@pytest.mark.parametrize("n", [1, 2, 3, 5, 9, 19, 20, 57, 400])
def test_intervals_match_statsmodels_for_every_count(method, n):
    for k in range(n + 1) if n <= 60 else np.linspace(0, n, 13).astype(int):
        low, high = proportion_interval(int(k), n, method)
        ref_low, ref_high = proportion_confint(int(k), n, alpha=0.05, method=_SM[method])
        assert low == pytest.approx(ref_low, abs=1e-9), (k, n)
        assert high == pytest.approx(ref_high, abs=1e-9), (k, n)
        assert low <= k / n <= high


def test_clopper_pearson_is_wider_than_wilson_at_zero_and_the_default_is_wilson():
    assert INTERVAL_METHOD == "wilson"
    assert proportion_interval(0, 9, "clopper-pearson")[1] > proportion_interval(0, 9)[1]


def test_interval_narrows_as_samples_grow():
    widths = [np.subtract(*proportion_interval(n // 10, n)[::-1]) for n in (10, 100, 1000)]
    assert widths[0] > widths[1] > widths[2] > 0


def test_no_samples_means_nothing_is_known():
    assert proportion_interval(0, 0) == (0.0, 1.0)
    assert rate(0, 0).value is None
    assert format_rate("FPR", 0, 0) == "FPR n/a, no normals"


def test_bad_counts_are_refused_in_words():
    with pytest.raises(ValueError, match="0 <= k <= n"):
        proportion_interval(5, 3)
    with pytest.raises(ValueError, match="whole counts"):
        proportion_interval(0.5, 3)
    with pytest.raises(ValueError, match="interval method"):
        proportion_interval(1, 3, "wald")


def test_rate_text_and_json_form():
    assert format_rate("FPR", 0, 9) == "FPR 0.00, <= 0.30 at 95 % from 9 normals"
    assert format_rate("recall", 10, 10, "defects") == "recall 1.00, >= 0.72 at 95 % from 10 defects"
    assert format_rate("recall", 8, 10, "defects") == "recall 0.80, 0.49-0.94 at 95 % from 10 defects"
    d = rate(3, 40).to_dict()
    assert d["value"] == 3 / 40 and d["k"] == 3 and d["n"] == 40 and d["ci_method"] == "wilson"
    assert d["ci_low"] < 3 / 40 < d["ci_high"] and d["ci_level"] == 0.95


def test_small_validation_flag_below_twenty_normals():
    assert SMALL_VALIDATION_NORMALS == 20 and MIN_EXPORT_NORMALS == 5
    assert is_small_validation(19) and not is_small_validation(20)
    assert small_validation_text(9) == "small validation: 9 normals (< 20)"
    assert small_validation_text(25) == ""
