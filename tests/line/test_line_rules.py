"""Line rules without a video: late fusion of view verdicts, defect boxes and zones, zone alerts."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.line.sinks import ZoneAlerts, parse_host_port
from workbench.line.verdict import fuse, view_verdict
from workbench.metrics.policy import ThresholdPolicy


def test_fusion_rules_and_missing_views():
    assert fuse({"a": "OK", "b": "NG"}) == "NG"
    assert fuse({"a": "OK", "b": "NG"}, "all") == "OK"
    assert fuse({"a": "NG", "b": "NG", "c": "OK"}, "majority") == "NG"
    assert fuse({"a": "OK", "b": "MISSING"}) == "NG"
    assert fuse({"a": "OK", "b": "MISSING"}, missing="ignore") == "OK"
    with pytest.raises(ValueError, match="fusion rule: expected one of"):
        fuse({}, "sometimes")


def test_defects_are_thresholded_components_with_boxes_and_zones():
    amap = np.zeros((40, 60), np.float32)
    amap[5:10, 5:15] = 0.9  # in zone A
    amap[30:35, 40:42] = 0.7  # in zone B
    amap[20, 20] = 0.3  # below the threshold
    zones = np.zeros((40, 60), np.uint8)
    zones[:, :30], zones[:, 30:] = 1, 2
    policy = ThresholdPolicy(threshold=0.5, level="pixel", per_zone={"v": {"B": 0.8}})
    r = view_verdict(policy, "v", 0.9, amap, np.full((40, 60), 255, np.uint8), zones, ["A", "B"])
    assert r["verdict"] == "NG"
    assert r["defects"] == [{"box": [5, 5, 10, 5], "area": 50, "peak": pytest.approx(0.9), "zone": "A"}]
    assert r["zones"] == ["A"]
    ok = view_verdict(ThresholdPolicy(threshold=0.95), "v", 0.9, amap)
    assert ok["verdict"] == "OK" and ok["defects"] == []


def _part(n: int, zones: list[str]) -> dict:
    return {"part": n, "id": str(n), "time": "t", "views": {"v": {"defects": [{"zone": z} for z in zones]}}}


def test_zone_alert_fires_once_above_the_limit_and_rearms():
    alerts = ZoneAlerts(window=3, limit=0.5)
    fired = [
        alerts.update(_part(i, z))
        for i, z in enumerate([["A"], [], ["A"], ["A"], ["A"], [], [], ["A", "A"], ["A"]], 1)
    ]
    parts = [i + 1 for i, f in enumerate(fired) if f]
    assert parts == [3, 9]
    assert fired[2][0]["zone"] == "A" and fired[2][0]["rate"] == pytest.approx(2 / 3, abs=1e-4)


def test_mqtt_address_parsing():
    assert parse_host_port("broker:1884") == ("broker", 1884)
    assert parse_host_port("broker") == ("broker", 1883)
    with pytest.raises(ValueError, match="expected HOST:PORT"):
        parse_host_port("broker:abc")
