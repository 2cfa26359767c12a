"""Shared fixtures: the bundled MNIST subset, and a small fake data directory laid out as ../shared/data."""

from __future__ import annotations

import gzip
from pathlib import Path

import cv2
import numpy as np
import pytest

from pipeline.data.bundled import MNIST_TEST_SUBSET
from pipeline.data.location import default_data_dir
from pipeline.data.mnist import load_mnist

SUBSET_DIR = MNIST_TEST_SUBSET


@pytest.fixture(scope="session")
def mnist_subset() -> tuple[np.ndarray, np.ndarray]:
    """1,000 real MNIST test digits bundled with the tests (CC BY-SA 3.0, see ATTRIBUTION.md)."""
    return load_mnist(SUBSET_DIR, "test")


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    """The real data directory, or skip the test where there is none (a fresh machine)."""
    path = default_data_dir()
    if path is None or not (path / "mnist").is_dir():
        pytest.skip("real data directory not available")
    return path


def write_idx(path: Path, array: np.ndarray, magic: int) -> None:
    header = magic.to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    data = header + array.astype(np.uint8).tobytes()
    if path.suffix == ".gz":
        with gzip.GzipFile(path, "wb", mtime=0) as handle:
            handle.write(data)
    else:
        path.write_bytes(data)


def write_usps(path: Path, images: np.ndarray, labels: np.ndarray) -> None:
    """USPS text format from ink-bright uint8 digits, values mapped to [-1, 1]."""
    lines = []
    for image, label in zip(images, labels, strict=True):
        small = cv2.resize(image, (16, 16), interpolation=cv2.INTER_AREA).astype(np.float32) / 127.5 - 1
        lines.append(" ".join([f"{label}.0000"] + [f"{v:.4f}" for v in small.ravel()]))
    text = "\n".join(lines) + "\n"
    if path.suffix == ".gz":
        with gzip.open(path, "wt") as handle:
            handle.write(text)
    else:
        path.write_text(text)


def write_orand(directory: Path, images: np.ndarray, labels: np.ndarray, per_image: int = 3) -> None:
    """Fake amount crops: a few digits side by side, dark ink on light grey, with their digit boxes."""
    (directory / "images").mkdir(parents=True)
    label_rows, box_rows = ["image,digits,width,height,split"], ["image,digit,x,y,w,h"]
    for k, start in enumerate(range(0, len(images) - per_image + 1, per_image)):
        name = f"fake_{k:04d}.png"
        strip = np.hstack([255 - images[i] for i in range(start, start + per_image)]).astype(np.float32)
        strip = (strip * 0.7 + 60).astype(np.uint8)
        cv2.imwrite(str(directory / "images" / name), strip)
        digits = "".join(str(labels[i]) for i in range(start, start + per_image))
        split = "val" if k % 5 == 0 else "train"
        label_rows.append(f"{name},{digits},{strip.shape[1]},{strip.shape[0]},{split}")
        for j in range(per_image):
            box_rows.append(f"{name},{digits[j]},{28 * j},0,28,28")
    (directory / "labels.csv").write_text("\n".join(label_rows) + "\n")
    (directory / "digit_boxes.csv").write_text("\n".join(box_rows) + "\n")


@pytest.fixture(scope="session")
def fake_data_dir(tmp_path_factory, mnist_subset) -> Path:
    """A data directory with the same layout as ../shared/data, built from the bundled MNIST digits."""
    images, labels = mnist_subset
    root = tmp_path_factory.mktemp("data")
    (root / "mnist").mkdir()
    write_idx(root / "mnist" / "train-images-idx3-ubyte.gz", images[:600], 2051)
    write_idx(root / "mnist" / "train-labels-idx1-ubyte.gz", labels[:600], 2049)
    write_idx(root / "mnist" / "t10k-images-idx3-ubyte", images[600:800], 2051)
    write_idx(root / "mnist" / "t10k-labels-idx1-ubyte", labels[600:800], 2049)
    (root / "usps").mkdir()
    write_usps(root / "usps" / "zip.train.gz", images[800:900], labels[800:900])
    write_usps(root / "usps" / "zip.test", images[900:960], labels[900:960])
    write_orand(root / "orand-car-a-dev", images[:150], labels[:150])
    return root
