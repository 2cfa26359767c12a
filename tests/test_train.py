import contextlib
import json

import numpy as np
import pytest
import torch

from pipeline.recognize.datasets import SOURCES, train_validation_split
from pipeline.recognize.distort import DistortionConfig, distort
from pipeline.recognize.train import TrainConfig, _distill_loss, train
from pipeline.recognize.weights import load_weights
from pipeline.segment.normalize import NormalizationConfig


def small_config(epochs: int) -> TrainConfig:
    return TrainConfig(epochs=epochs, batch_size=64, lr=3e-3, val_fraction=0.15, seed=7, ema_decay=0.9)


def test_split_holds_out_every_source_and_orand_by_image(fake_data_dir):
    train_set, val_set = train_validation_split(fake_data_dir, NormalizationConfig(), 0.15, seed=3)
    for source in range(3):
        assert (train_set.source == source).any() and (val_set.source == source).any()
    assert train_set.images.shape[1:] == (32, 32)
    more, same_val = train_validation_split(fake_data_dir, NormalizationConfig(), 0.15, 3, orand_copies=2,
                                            orand_jitter=0.15)  # fmt: skip
    orand = SOURCES.index("orand")
    assert (more.source == orand).sum() == 3 * (train_set.source == orand).sum()  # two more cuts of each
    assert len(more) - len(train_set) == 2 * (train_set.source == orand).sum()
    assert np.array_equal(same_val.images, val_set.images)  # validation keeps the annotated boxes only


def test_distortions_are_seeded_and_keep_range(mnist_subset):
    x = torch.rand(16, 1, 32, 32)
    a = distort(x, DistortionConfig(), torch.Generator().manual_seed(5))
    b = distort(x, DistortionConfig(), torch.Generator().manual_seed(5))
    c = distort(x, DistortionConfig(), torch.Generator().manual_seed(6))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.min() >= 0 and a.max() <= 1 and a.shape == x.shape


def test_short_training_learns_and_resume_matches_uninterrupted(fake_data_dir, tmp_path):
    torch.set_num_threads(2)
    lines: list[str] = []
    full = train(small_config(3), fake_data_dir, tmp_path / "full", torch.device("cpu"), log=lines.append,
                 progress=False)  # fmt: skip
    history = [json.loads(line) for line in lines if line.startswith("{")]
    assert history[-1]["loss"] < history[0]["loss"] * 0.8  # it learns
    loaded = load_weights(full)
    assert loaded.calibration.temperature > 0 and 0 <= loaded.calibration.threshold <= 1
    assert loaded.training["recipe"]["seed"] == 7

    # interrupt a 3-epoch run after epoch 2 (as a kill would), then resume: same weights as uninterrupted
    class Stop(Exception):
        pass

    def stop_after_two(line: str) -> None:
        if line.startswith('{"epoch": 2'):
            raise Stop

    interrupted = tmp_path / "interrupted"
    with contextlib.suppress(Stop):
        train(
            small_config(3),
            fake_data_dir,
            interrupted,
            torch.device("cpu"),
            log=stop_after_two,
            progress=False,
        )
    assert torch.load(interrupted / "checkpoint.pt", weights_only=False)["epoch"] == 2
    assert not (interrupted / "lenet5.pt").exists()
    resumed = train(small_config(3), fake_data_dir, interrupted, torch.device("cpu"), resume=True,
                    log=lambda s: None, progress=False)  # fmt: skip
    a, b = load_weights(full).model.state_dict(), load_weights(resumed).model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_distill_loss_is_zero_against_itself_and_grows_with_disagreement():
    torch.manual_seed(0)
    teacher = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 10))
    x = torch.randn(8, 1, 4, 4)
    with torch.no_grad():
        same = teacher(x)
    assert abs(float(_distill_loss(same, teacher, x, 2.0))) < 1e-6
    other = same + torch.randn_like(same)
    assert float(_distill_loss(other, teacher, x, 2.0)) > 0.01
    assert teacher.training  # put back in the mode it was found in


def test_self_distillation_starts_after_the_warm_up_and_the_recipe_records_it(fake_data_dir, tmp_path, monkeypatch):
    import pipeline.recognize.train as training

    calls = {"n": 0}
    real = training._distill_loss

    def counting(*args, **kwargs):
        calls["n"] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(training, "_distill_loss", counting)
    torch.set_num_threads(2)
    at_epoch_end: list[int] = []

    def log(line: str) -> None:
        if line.startswith('{"epoch"'):
            at_epoch_end.append(calls["n"])

    config = small_config(3)
    config.label_smoothing, config.self_distill = 0.1, 0.5
    path = train(config, fake_data_dir, tmp_path / "run", torch.device("cpu"), log=log, progress=False)
    steps = at_epoch_end[2] - at_epoch_end[1]
    assert at_epoch_end[0] == 0 and steps > 0  # none in the warm-up epoch, one per step after it
    assert at_epoch_end[1] == steps
    recipe = load_weights(path).training["recipe"]
    assert recipe["label_smoothing"] == 0.1 and recipe["self_distill"] == 0.5


def test_out_of_range_distillation_is_refused(tmp_path):
    config = small_config(1)
    config.self_distill = 1.5
    with pytest.raises(ValueError, match="self_distill"):
        train(config, None, tmp_path, torch.device("cpu"), progress=False)
