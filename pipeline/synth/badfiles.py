"""Files a batch pipeline meets and must survive: each one is a different way for an input to be broken.

They get no truth lines; the flows must report them as errors and carry on.
"""

from __future__ import annotations

import struct
import zlib
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

BAD_KINDS = ("truncated", "text-as-png", "zero-bytes", "wrong-extension", "one-pixel", "bomb")
NAMES = {
    "truncated": "truncated_{n:02d}.jpg",
    "text-as-png": "not_an_image_{n:02d}.png",
    "zero-bytes": "empty_{n:02d}.png",
    "wrong-extension": "jpeg_named_tif_{n:02d}.tif",
    "one-pixel": "one_pixel_{n:02d}.png",
    "bomb": "bomb_{n:02d}.png",
}
BOMB_SIDE = 30000  # 900 megapixels claimed: ten times Pillow's decompression-bomb limit


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


@lru_cache(maxsize=2)
def bomb_png(side: int = BOMB_SIDE) -> bytes:
    """A valid 1-bit PNG of side x side white pixels: ~110 KB on disk, 112 MB (or 900 MB as RGB) decoded."""
    row = b"\x00" + b"\xff" * ((side + 7) // 8)
    packer = zlib.compressobj(9)
    parts = [packer.compress(row * 1000) for _ in range(side // 1000)]
    parts.append(packer.compress(row * (side % 1000)))
    parts.append(packer.flush())
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", b"".join(parts)) + _chunk(b"IEND", b"")


def _small_scan(rng: np.random.Generator) -> np.ndarray:
    """A plausible grey page (paper, lines and blobs) to truncate or mislabel; no digits needed."""
    page = np.full((400, 900), 235, np.uint8)
    for _ in range(12):
        y = int(rng.integers(20, 380))
        cv2.line(page, (int(rng.integers(0, 400)), y), (int(rng.integers(450, 900)), y), 40, 2)
    return page


def write_bad_files(out_dir: Path, count: int, rng: np.random.Generator) -> list[dict]:
    """Write ``count`` bad files under ``out_dir/bad`` (kinds in BAD_KINDS order, cycling); returns their list."""
    folder = out_dir / "bad"
    made = []
    for n in range(1, count + 1):
        kind = BAD_KINDS[(n - 1) % len(BAD_KINDS)]
        path = folder / NAMES[kind].format(n=n)
        folder.mkdir(parents=True, exist_ok=True)
        if kind == "truncated":
            _, buf = cv2.imencode(".jpg", _small_scan(rng), [cv2.IMWRITE_JPEG_QUALITY, 85])
            data = buf.tobytes()
            path.write_bytes(data[: len(data) * 2 // 5])
        elif kind == "text-as-png":
            path.write_text("This is a text file with a .png name, as a mis-saved upload would be.\n")
        elif kind == "zero-bytes":
            path.write_bytes(b"")
        elif kind == "wrong-extension":
            _, buf = cv2.imencode(".jpg", _small_scan(rng), [cv2.IMWRITE_JPEG_QUALITY, 80])
            path.write_bytes(buf.tobytes())
        elif kind == "one-pixel":
            _ok, buf = cv2.imencode(".png", np.full((1, 1), 255, np.uint8))
            path.write_bytes(buf.tobytes())
        else:
            path.write_bytes(bomb_png())
        made.append({"document": path.relative_to(out_dir).as_posix(), "defect": kind, "bytes": path.stat().st_size})
    return made
