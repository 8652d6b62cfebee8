"""Cameras: the simulated camera plays a video at its frame rate; missing devices and plugins are named."""

from __future__ import annotations

import importlib.util
import time

import cv2
import numpy as np
import pytest

from workbench.core.progress import Cancelled, CancelToken
from workbench.io.camera import CameraError, GenICamCamera, OpenCVCamera, SimulatedCamera, open_camera


@pytest.fixture
def video(tmp_path):
    path = tmp_path / "clip.avi"
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 50.0, (32, 24))
    for k in range(10):
        w.write(np.full((24, 32, 3), 20 * k, np.uint8))
    w.release()
    return path


def test_simulated_camera_plays_every_frame_at_the_video_rate(video):
    with SimulatedCamera(video) as cam:
        t0 = time.perf_counter()
        frames = list(cam.frames())
        elapsed = time.perf_counter() - t0
    assert len(frames) == 10 and cam.fps == pytest.approx(50.0)
    assert [round(float(f.mean()) / 20) for f in frames] == list(range(10))
    assert elapsed >= 9 / 50 * 0.9  # paced at the frame rate, never faster


def test_simulated_camera_loops_and_honours_cancel(video):
    token = CancelToken()
    with SimulatedCamera(video, realtime=False, loop=True) as cam:
        got = []
        with pytest.raises(Cancelled):
            for f in cam.frames(cancel=token):
                got.append(f)
                if len(got) == 25:
                    token.cancel()
    assert len(got) == 25


def test_missing_devices_and_plugins_give_clear_errors(tmp_path):
    with pytest.raises(CameraError, match="camera 97 cannot be opened"):
        OpenCVCamera(97).open()
    if importlib.util.find_spec("harvesters") is None:
        with pytest.raises(CameraError, match="pip install harvesters"):
            GenICamCamera(tmp_path / "vendor.cti").open()
    else:
        with pytest.raises(CameraError, match="vendor.cti"):
            GenICamCamera(tmp_path / "vendor.cti").open()
    with pytest.raises(CameraError, match="not understood"):
        open_camera("usb-thing")
    assert isinstance(open_camera("sim:x.mp4"), SimulatedCamera)
