"""MNIST in its IDX format (gzipped or not), plus a real download path for machines with the internet."""

from __future__ import annotations

import gzip
import hashlib
import shutil
import tempfile
import urllib.request
from collections.abc import Callable
from pathlib import Path

import numpy as np

from pipeline.data.errors import DataError

IMAGE_MAGIC = 2051
LABEL_MAGIC = 2049

FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

# md5 of the published .gz files, as distributed by the standard mirrors.
GZ_MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}

MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)


def read_idx(path: Path, expected_magic: int) -> np.ndarray:
    """Read one IDX file (``.gz`` or raw) into a uint8 array, checking magic number and size."""
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as handle:
            raw = handle.read()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except (OSError, EOFError) as exc:
        raise DataError(f"{path}: cannot read ({exc})") from None
    if len(raw) < 8:
        raise DataError(f"{path}: too short for an IDX header ({len(raw)} bytes)")
    magic = int.from_bytes(raw[:4], "big")
    if magic != expected_magic:
        raise DataError(f"{path}: IDX magic {magic}, expected {expected_magic}")
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: header truncated")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    size = int(np.prod(shape))
    if len(raw) - header != size:
        raise DataError(f"{path}: {len(raw) - header} data bytes, header promises {size} for shape {shape}")
    return np.frombuffer(raw, np.uint8, offset=header).reshape(shape)


def _find(directory: Path, stem: str) -> Path:
    for name in (stem + ".gz", stem):
        if (directory / name).is_file():
            return directory / name
    raise DataError(f"{directory}: missing {stem}.gz (or {stem})")


def load_mnist(directory: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(images N x 28 x 28 uint8, labels N int64)`` for ``split`` in {"train", "test"}."""
    if split not in FILES:
        raise ValueError(f"unknown MNIST split {split!r}")
    image_stem, label_stem = FILES[split]
    images = read_idx(_find(directory, image_stem), IMAGE_MAGIC)
    labels = read_idx(_find(directory, label_stem), LABEL_MAGIC).astype(np.int64)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise DataError(f"{directory}: {split} images {images.shape} and labels {labels.shape} do not match")
    if labels.size and labels.max() > 9:
        raise DataError(f"{directory}: {split} labels outside 0..9")
    return images, labels


def download_mnist(
    directory: Path,
    mirrors: tuple[str, ...] = MIRRORS,
    urlopen: Callable = urllib.request.urlopen,
    checksums: dict[str, str] | None = GZ_MD5,
) -> list[Path]:
    """Fetch the four MNIST .gz files into ``directory`` (skipping ones already there), verifying md5.

    Each file is written to a temporary name and renamed, so an interrupted download never leaves a bad file.
    """
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for stems in FILES.values():
        for stem in stems:
            name = stem + ".gz"
            target = directory / name
            if target.is_file():
                continue
            errors = []
            for mirror in mirrors:
                try:
                    _fetch(mirror + name, target, urlopen, (checksums or {}).get(name))
                    written.append(target)
                    break
                except (OSError, DataError) as exc:
                    errors.append(f"{mirror}: {exc}")
            else:
                raise DataError(f"could not download {name}: " + "; ".join(errors))
    return written


def _fetch(url: str, target: Path, urlopen: Callable, md5: str | None) -> None:
    digest = hashlib.md5()
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False, suffix=".part") as tmp:
        tmp_path = Path(tmp.name)
        try:
            with urlopen(url, timeout=60) as response:
                while chunk := response.read(1 << 16):
                    digest.update(chunk)
                    tmp.write(chunk)
        except BaseException:
            tmp.close()
            tmp_path.unlink(missing_ok=True)
            raise
    if md5 and digest.hexdigest() != md5:
        tmp_path.unlink(missing_ok=True)
        raise DataError(f"checksum mismatch for {url} (md5 {digest.hexdigest()}, expected {md5})")
    shutil.move(tmp_path, target)
