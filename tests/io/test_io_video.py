"""Video reading: random access agrees with sequential decoding; sampling; broken files are named."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from workbench.io.video import FrameRange, VideoError, VideoReader, frame_range, probe


@pytest.fixture(scope="module", params=[("MJPG", ".avi"), ("mp4v", ".mp4")])
def counter_video(request, tmp_path_factory):
    """A 40-frame video (intra-only MJPG, or mp4v with predicted frames) whose frame k shows level 5 * k."""
    fourcc, ext = request.param
    path = tmp_path_factory.mktemp("v") / f"counter{ext}"
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 20.0, (64, 48))
    for k in range(40):
        frame = np.full((48, 64, 3), 5 * k, np.uint8)
        frame[:, :, 0] = 200 - 5 * k  # blue differs from red, so BGR/RGB order is visible
        w.write(frame)
    w.release()
    return path


def level(frame) -> int:
    return int(round(float(frame[:, :, 0].mean()) / 5.0))


def test_metadata_and_random_access_match_sequential(counter_video):
    info = probe(counter_video)
    assert info["frames"] == 40 and info["fps"] == pytest.approx(20.0) and info["width"] == 64
    with VideoReader(counter_video) as r:
        seq = {i: f.copy() for i, f in r.frames()}
        assert sorted(seq) == list(range(40))
        assert all(abs(level(f) - k) <= 1 for k, f in seq.items())  # mp4v is lossy on flat frames
        for k in (33, 2, 17, 0, 39, 18, 1):
            assert np.array_equal(r.read(k), seq[k])
        assert abs(int(r.read(5, color="bgr")[0, 0, 0]) - (200 - 25)) <= 4
        with pytest.raises(VideoError, match=f"frame 40 is outside video '{counter_video.name}'"):
            r.read(40)


def test_every_nth_frame_and_time_range(counter_video):
    rng = frame_range(20.0, start_s=0.5, end_s=1.5, every=3)
    assert rng == FrameRange(10, 30, 3)
    with VideoReader(counter_video) as r:
        assert [i for i, _ in r.frames(rng)] == list(range(10, 30, 3))
        assert all(abs(level(f) - i) <= 1 for i, f in r.frames(rng))
    with pytest.raises(ValueError, match="end time"):
        frame_range(20.0, start_s=3, end_s=1)
    with pytest.raises(ValueError, match="--every"):
        frame_range(20.0, every=0)


def test_missing_empty_and_garbage_files_are_named(tmp_path):
    with pytest.raises(VideoError, match="does not exist"):
        VideoReader(tmp_path / "nope.mp4")
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(VideoError, match="'empty.mp4' is an empty file"):
        VideoReader(tmp_path / "empty.mp4")
    (tmp_path / "junk.mp4").write_bytes(b"this is not a video" * 100)
    with pytest.raises(VideoError, match="junk.mp4"):
        VideoReader(tmp_path / "junk.mp4")


def test_zero_length_video_is_an_error(tmp_path):
    path = tmp_path / "zero.avi"
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 20.0, (64, 48))
    w.release()
    with pytest.raises(VideoError, match="zero.avi"):
        VideoReader(path)


def test_truncated_video_fails_or_warns_with_its_name(tmp_path, counter_video):
    data = counter_video.read_bytes()
    cut = tmp_path / f"cut{counter_video.suffix}"
    cut.write_bytes(data[: len(data) // 2])
    try:
        reader = VideoReader(cut)
    except VideoError as exc:
        assert cut.name in str(exc)
        return
    with reader:
        got = [i for i, _ in reader.frames()]
    assert len(got) < 40
    assert any(cut.name in w and "truncated" in w for w in reader.warnings)
