"""Where a template was cut, kept inside its PNG (a ``tEXt`` chunk), so ``import-video --template NAME=PNG``
knows the view's inspection position even when the import reads only part of the video.

The chunk's keyword is ``workbench-origin`` and its text ``frame=N x=X y=Y video=NAME``; any other PNG
simply has no origin.
"""

from __future__ import annotations

import os
import re
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np

KEYWORD = b"workbench-origin"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_with_origin(image: np.ndarray, frame: int, x: int, y: int, video: str = "") -> bytes:
    """PNG bytes of an (H, W, 3) RGB or (H, W) uint8 image carrying where it was cut."""
    img = image[:, :, ::-1] if image.ndim == 3 else image
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(img))
    if not ok:
        raise ValueError("the template could not be encoded as PNG")
    data = buf.tobytes()
    name = re.sub(r"[^\x20-\x7e]", "_", os.path.basename(video))
    text = KEYWORD + b"\x00" + f"frame={int(frame)} x={int(x)} y={int(y)} video={name}".encode("latin-1")
    chunk = struct.pack(">I", len(text)) + b"tEXt" + text + struct.pack(">I", zlib.crc32(b"tEXt" + text))
    end = data.rfind(b"IEND") - 4  # before the IEND chunk's length field
    return data[:end] + chunk + data[end:]


def read_origin(
    path: str | os.PathLike, video: str | os.PathLike | None = None
) -> tuple[int, int, int] | None:
    """(frame, x, y) stored in a PNG by :func:`png_with_origin`, or None; the frame is -1 when ``video`` is
    given and the template was cut from another video (its position still holds, its frame does not)."""
    try:
        data = Path(path).read_bytes()
    except OSError:
        return None
    if not data.startswith(PNG_SIGNATURE):
        return None
    pos = len(PNG_SIGNATURE)
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"tEXt" and body.startswith(KEYWORD + b"\x00"):
            m = re.search(rb"frame=(\d+) x=(\d+) y=(\d+)", body)
            if m is None:
                return None
            frame = int(m.group(1))
            cut_from = re.search(rb"video=(.*)$", body)
            if video is not None and cut_from is not None:
                name = re.sub(r"[^\x20-\x7e]", "_", os.path.basename(os.fspath(video)))
                if cut_from.group(1).decode("latin-1") != name:
                    frame = -1
            return frame, int(m.group(2)), int(m.group(3))
        if kind == b"IEND":
            break
        pos += 12 + length
    return None
