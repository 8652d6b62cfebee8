"""Where line results go: JSON lines on stdout, MQTT messages (paho-mqtt), images of rejected parts, and
zone alerts when a zone's error rate over the last N parts exceeds a limit.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
from collections import deque
from pathlib import Path
from typing import Any, TextIO

import cv2
import numpy as np

from workbench.line.mqtt import MqttError, MqttSink, parse_host_port

log = logging.getLogger(__name__)
__all__ = ["MqttError", "MqttSink", "Outputs", "ZoneAlerts", "overlay", "parse_host_port", "save_ng_part"]


def save_ng_part(
    folder: str | os.PathLike,
    result: dict[str, Any],
    crops: dict[str, np.ndarray],
    maps: dict[str, np.ndarray],
) -> Path:
    """Write a rejected part's crops, heat-map overlays with defect boxes and its result JSON to ``folder/<id>/``.

    Written to a temporary folder and renamed, so a half-written part never appears. An existing folder of
    that id (another run's part) is never replaced: this one gets a suffix ``-2``, ``-3``, ...
    """
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    part = "".join(c if c.isalnum() or c in "-_." else "_" for c in str(result["id"])).strip(".") or "part"
    tmp = root / f".{part}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    for view, crop in crops.items():
        name = "".join(c if c.isalnum() or c in "-_" else "_" for c in view)
        cv2.imwrite(str(tmp / f"{name}.png"), np.ascontiguousarray(crop[:, :, ::-1]))
        if view in maps:
            cv2.imwrite(str(tmp / f"{name}_overlay.png"), overlay(crop, maps[view], result["views"][view]))
    (tmp / "result.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    for k in range(1, 1000):
        final = root / (part if k == 1 else f"{part}-{k}")
        try:
            os.mkdir(final)  # claims the name atomically; a concurrent run gets the next one
        except FileExistsError:
            continue
        try:
            os.replace(tmp, final)  # onto the empty folder just made (POSIX)
        except OSError:  # Windows renames no folder onto another: move the finished files in
            for f in tmp.iterdir():
                os.replace(f, final / f.name)
            tmp.rmdir()
        return final
    raise OSError(f"--save-ng: {root} already holds 999 folders named {part}")


def overlay(crop: np.ndarray, amap: np.ndarray, view_result: dict[str, Any]) -> np.ndarray:
    """BGR image: the crop with the map as a colour overlay (scaled to the threshold) and defect boxes."""
    thr = float(view_result.get("threshold") or 0.0) or float(amap.max() or 1.0)
    heat = np.clip(amap / (2.0 * thr) * 255.0, 0, 255).astype(np.uint8)
    heat = cv2.applyColorMap(heat, cv2.COLORMAP_JET)
    out = cv2.addWeighted(np.ascontiguousarray(crop[:, :, ::-1]), 0.6, heat, 0.4, 0)
    for d in view_result.get("defects", []):
        x, y, w, h = d["box"]
        cv2.rectangle(out, (x, y), (x + w - 1, y + h - 1), (0, 0, 255), 2)
    return out


class ZoneAlerts:
    """Error rate of every (view, zone) over the last ``window`` parts; an alert when it exceeds ``limit``.

    A zone counts as an error for a part when a defect of that view lies mostly in it ("-" outside
    every zone). An alert fires once when the rate goes above the limit, and re-arms when it falls
    back to the limit or below. Rates are taken once ``window`` parts have been seen.
    """

    def __init__(self, window: int = 50, limit: float = 0.2) -> None:
        if window < 1:
            raise ValueError(f"alert window: expected >= 1 parts; found {window}")
        if not 0.0 <= limit < 1.0:
            raise ValueError(f"alert limit: expected an error rate in [0, 1); found {limit}")
        self.window, self.limit = int(window), float(limit)
        self._history: deque[set[str]] = deque(maxlen=self.window)
        self._active: set[str] = set()
        self._seen: set[str] = set()

    def update(self, result: dict[str, Any]) -> list[dict[str, Any]]:
        """Record one part's result; returns the alert messages that fire now."""
        errors = set()
        for view, r in result["views"].items():
            for d in r.get("defects", []):
                errors.add(f"{view}/{d['zone'] or '-'}")
        self._history.append(errors)
        self._seen |= errors
        if len(self._history) < self.window:
            return []
        alerts = []
        for key in sorted(self._seen):
            rate = sum(key in e for e in self._history) / len(self._history)
            if rate > self.limit and key not in self._active:
                self._active.add(key)
                view, zone = key.split("/", 1)
                alerts.append(
                    {
                        "alert": "zone_error_rate",
                        "view": view,
                        "zone": None if zone == "-" else zone,
                        "rate": round(rate, 4),
                        "limit": self.limit,
                        "window": self.window,
                        "part": result["part"],
                        "id": result["id"],
                        "time": result["time"],
                    }
                )
            elif rate <= self.limit:
                self._active.discard(key)
        return alerts


class Outputs:
    """Every sink of a line run: stdout (JSON lines), MQTT (``topic`` and ``topic/alerts``), NG images, stderr alerts."""

    def __init__(
        self,
        mqtt: MqttSink | None = None,
        topic: str = "workbench/line",
        save_ng: str | os.PathLike | None = None,
        alerts: ZoneAlerts | None = None,
        stdout: TextIO | None = None,
        stderr: TextIO | None = None,
    ) -> None:
        if save_ng is not None and Path(save_ng).exists() and not Path(save_ng).is_dir():
            raise ValueError(f"--save-ng {save_ng} is a file; give a folder for the images of rejected parts")
        self.mqtt, self.topic, self.save_ng, self.alerts = mqtt, topic.rstrip("/"), save_ng, alerts
        self.stdout = stdout if stdout is not None else sys.stdout
        self.stderr = stderr if stderr is not None else sys.stderr

    def part(
        self, result: dict[str, Any], crops: dict[str, np.ndarray], maps: dict[str, np.ndarray]
    ) -> list[dict]:
        """Emit one part: stdout line, MQTT message, NG images; returns the alerts it caused (also emitted)."""
        if self.save_ng and result["verdict"] == "NG":
            result["saved"] = str(save_ng_part(self.save_ng, result, crops, maps))
        self.stdout.write(json.dumps(result) + "\n")
        self.stdout.flush()
        if self.mqtt is not None:
            self.mqtt.publish(self.topic, result)  # queued on disk: never waits for the broker
        fired = self.alerts.update(result) if self.alerts is not None else []
        for a in fired:
            self.stderr.write("ALERT " + json.dumps(a) + "\n")
            self.stderr.flush()
            if self.mqtt is not None:
                self.mqtt.publish(f"{self.topic}/alerts", a)
        return fired

    def close(self) -> None:
        if self.mqtt is not None:
            self.mqtt.close()
