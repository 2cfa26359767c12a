"""The weights shipped in the package: present, complete, and scoring within bounds on real MNIST digits."""

import re

import numpy as np

from pipeline.hashing import file_sha256
from pipeline.recognize.classifier import DigitClassifier
from pipeline.recognize.weights import SHIPPED_WEIGHTS, load_weights


def test_shipped_weights_load_with_metadata():
    loaded = load_weights()
    cal = loaded.calibration
    assert cal.rule in ("max_probability", "margin")
    assert 0.3 < cal.temperature < 5
    assert 0.5 < cal.threshold < 1 and 0 < cal.target_error < 0.05
    assert len(cal.val_scores) == len(cal.val_correct) > 1000
    assert isinstance(loaded.training["recipe"]["seed"], int) and loaded.training["train_seconds"] > 0
    assert SHIPPED_WEIGHTS.stat().st_size < 2_000_000


def test_model_card_names_the_shipped_file():
    card = (SHIPPED_WEIGHTS.parent / "MODEL_CARD.md").read_text()
    assert file_sha256(SHIPPED_WEIGHTS) in card
    assert re.search(r"MNIST test error", card)


def test_shipped_weights_on_bundled_mnist_subset(mnist_subset):
    images, labels = mnist_subset
    classifier = DigitClassifier(device="cpu")
    predictions = classifier.classify(list(images))
    error = float(np.mean(predictions.labels != labels))
    assert error <= 0.012  # 1,000 digits: the full test split's ~0.5% with room for sampling noise
    accepted_wrong = np.sum(predictions.accepted & (predictions.labels != labels))
    assert accepted_wrong <= 2
    assert predictions.accepted.mean() >= 0.95


def test_shipped_weights_read_dark_ink_scanned_digits(mnist_subset):
    """The same digits as a scan shows them (dark ink on grey paper, noise): the same answers."""
    images, labels = mnist_subset
    rng = np.random.default_rng(0)
    scans = [
        np.clip((255 - img.astype(np.float32)) * 0.7 + 60 + rng.normal(0, 5, img.shape), 0, 255).astype(np.uint8)
        for img in images[:300]
    ]
    predictions = DigitClassifier(device="cpu").classify(scans)
    assert np.mean(predictions.labels == labels[:300]) >= 0.98
