"""Fine-tuning on reviewer corrections: export-corrections' folder through ``pipeline train --finetune``."""

from __future__ import annotations

import pytest
import torch
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.recognize.datasets import SOURCES, load_corrections
from pipeline.recognize.weights import SHIPPED_WEIGHTS, load_weights
from pipeline.review.db import connect, prepare_store
from pipeline.review.export import export_corrections
from tests.review_helper import build_review_out
from tests.test_review import settle_all


@pytest.fixture
def corrections(tmp_path, mnist_subset):
    review_out = build_review_out(tmp_path / "review", *mnist_subset)
    db = connect(prepare_store(review_out.out))
    settle_all(review_out, db)
    db.close()
    folder = tmp_path / "corrections"
    assert export_corrections(review_out.out, folder).digits == 14
    return folder


def test_corrections_load_through_the_shared_normalisation(corrections):
    parent = load_weights()
    digits, fields = load_corrections(corrections, parent.normalization)
    assert digits.images.shape == (14, parent.normalization.size, parent.normalization.size)
    assert "".join(map(str, digits.labels[:4])) == "1234" and len(set(fields)) == 3
    assert set(digits.source) == {SOURCES.index("corrections")}
    assert digits.images.min() >= 0.0 and digits.images.max() <= 1.0 and digits.images.mean() > 0.05


def test_train_finetune_starts_from_the_shipped_weights_and_mixes_the_data(corrections, fake_data_dir, tmp_path):
    torch.set_num_threads(2)
    out = tmp_path / "tuned"
    result = CliRunner().invoke(main, ["train", "--data", str(fake_data_dir), "--finetune", str(corrections),
                                       "--limit", "200", "--epochs", "1", "--out", str(out),
                                       "--no-progress", "--device", "cpu"])  # fmt: skip
    assert result.exit_code == 0, result.output
    tuned, parent = load_weights(out / "lenet5.pt"), load_weights(SHIPPED_WEIGHTS)
    recipe = tuned.training["recipe"]
    assert recipe["finetune"] == str(corrections) and recipe["epochs"] == 1 and recipe["lr"] == 5e-4
    assert tuned.training["parent"]["path"] == str(SHIPPED_WEIGHTS)
    assert tuned.normalization == parent.normalization
    counts = tuned.training["counts"]
    assert counts["mnist"] > 0 and 0 < counts["corrections"] < 14  # whole fields held out for calibration
    assert tuned.calibration.temperature > 0 and 0 <= tuned.calibration.threshold <= 1
    changed = [k for k, v in parent.model.state_dict().items() if not torch.equal(v, tuned.model.state_dict()[k])]
    assert changed  # it trained


def test_finetune_needs_an_exported_folder(tmp_path, fake_data_dir):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = CliRunner().invoke(main, ["train", "--data", str(fake_data_dir), "--finetune", str(empty), "--epochs",
                                       "1", "--out", str(tmp_path / "o"), "--no-progress"])  # fmt: skip
    assert result.exit_code == 2 and "export-corrections" in result.output
