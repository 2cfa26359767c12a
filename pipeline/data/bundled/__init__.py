"""Small data shipped with the package: a subset of the MNIST test split (CC BY-SA 3.0, see ATTRIBUTION.md)."""

from pathlib import Path

MNIST_TEST_SUBSET = Path(__file__).parent / "mnist-test-subset"
