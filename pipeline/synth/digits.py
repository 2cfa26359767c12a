"""Real handwritten digits to write with: MNIST test + USPS test from a data directory, else the bundled subset.

Evaluation documents use test splits only, so they never contain digits the recognizer was trained on; documents
that a model is fitted on are written with the train splits.
Each digit is cropped to its ink once, so composition can scale it to a writer's size directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.data.bundled import MNIST_TEST_SUBSET
from pipeline.data.mnist import load_mnist
from pipeline.data.usps import load_usps

INK_LEVEL = 96  # grey level (0..255, ink bright) above which a pixel counts as ink when cropping (faint halo ignored)


@dataclass
class DigitSource:
    """Ink-cropped digit images (float32 0..1, ink bright) per label, with where each came from."""

    name: str
    crops: list[np.ndarray]
    labels: np.ndarray
    origins: list[str]
    by_label: list[np.ndarray]

    def pick(self, label: int, rng: np.random.Generator) -> tuple[np.ndarray, str]:
        """A random example of ``label``: its ink crop and its origin (``mnist-test/1234``)."""
        indices = self.by_label[label]
        i = int(indices[rng.integers(len(indices))])
        return self.crops[i], self.origins[i]


def _crop(image: np.ndarray) -> np.ndarray:
    """The digit's ink box, scaled so its darkest ink is 1.0 (USPS digits come in many ink strengths)."""
    ys, xs = np.nonzero(image > INK_LEVEL)
    crop = image if len(ys) == 0 else image[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    return crop.astype(np.float32) / max(1.0, float(crop.max()))


def _build(name: str, parts: list[tuple[str, np.ndarray, np.ndarray, list[int] | None]]) -> DigitSource:
    crops, labels, origins = [], [], []
    for prefix, images, lab, index_names in parts:
        for k, (image, label) in enumerate(zip(images, lab, strict=True)):
            crop = _crop(image)
            if crop.shape[0] < 6:  # a speck, not a digit
                continue
            crops.append(crop)
            labels.append(int(label))
            origins.append(f"{prefix}/{index_names[k] if index_names else k}")
    labels_arr = np.array(labels, np.int64)
    by_label = [np.nonzero(labels_arr == d)[0] for d in range(10)]
    return DigitSource(name, crops, labels_arr, origins, by_label)


def bundled_indices(count: int) -> list[int] | None:
    """The MNIST test indices of the bundled subset (every tenth, per INDICES.txt), so origins name the digit."""
    try:
        text = (MNIST_TEST_SUBSET / "INDICES.txt").read_text()
    except OSError:
        return None
    return list(range(0, 10 * count, 10)) if "every tenth" in text else None


def load_digit_source(data_dir: Path | None = None, split: str = "test") -> DigitSource:
    """MNIST + USPS ``split`` from ``data_dir`` when given, else the 1,000 bundled MNIST test digits.

    ``split="train"`` is for documents that models are fitted on (the whole-digit model), never for evaluation."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', not {split!r}")
    if data_dir is None:
        if split != "test":
            raise ValueError("the bundled digits are MNIST test digits: give a data directory for train digits")
        images, labels = load_mnist(MNIST_TEST_SUBSET, "test")
        indices = bundled_indices(len(images))
        return _build("bundled-mnist-test-subset", [("mnist-test", images, labels, indices)])
    m_images, m_labels = load_mnist(data_dir / "mnist", split)
    u_images, u_labels = load_usps(data_dir / "usps", split)
    return _build(
        f"mnist-{split}+usps-{split}",
        [(f"mnist-{split}", m_images, m_labels, None), (f"usps-{split}", u_images, u_labels, None)],
    )
