"""The whole-digit network's plumbing: weights file, context window, and the reader scoring segments with it."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from pipeline.recognize.wholeness import WINDOW, WholenessModel, WholenessNet, context_window, save_wholeness
from pipeline.segment.components import Piece, Scale
from pipeline.segment.field import FieldReader, prepare
from pipeline.segment.plausibility import FEATURES, features, log_plausibility
from pipeline.segment.search import SearchConfig, best_paths, candidate_segments, digit_penalty, render
from tests.test_segment_fields import Canvas, digits, reader, write  # noqa: F401 (fixtures)


def _saved(tmp_path: Path, bias: float | None = None) -> Path:
    torch.manual_seed(0)
    net = WholenessNet(len(FEATURES))
    if bias is not None:  # a network that says the same of every segment: log P = log sigmoid(bias)
        for p in net.parameters():
            p.data.zero_()
        net.head[-1].bias.data.fill_(bias)
    return save_wholeness(tmp_path / "wholeness.pt", net, {"seed": 0})


def test_weights_file_round_trip_and_bad_files(tmp_path: Path) -> None:
    model = WholenessModel(_saved(tmp_path, bias=2.0))
    assert model.training == {"seed": 0}
    out = model.log_whole(np.zeros((3, 32, 32)), np.zeros((3, WINDOW, WINDOW)), np.ones((3, len(FEATURES))))
    assert out.shape == (3,)
    assert np.allclose(out, -math.log1p(math.exp(-2.0)), atol=1e-5)
    assert model.log_whole(np.zeros((0, 32, 32)), np.zeros((0, 32, 32)), np.zeros((0, len(FEATURES)))).shape == (0,)
    with pytest.raises(FileNotFoundError, match="fit_wholeness"):
        WholenessModel(tmp_path / "missing.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match="not a readable"):
        WholenessModel(junk)
    other = tmp_path / "other.pt"
    torch.save({"format": "lenet5-weights/1"}, other)
    with pytest.raises(ValueError, match="not a whole-digit"):
        WholenessModel(other)


def test_context_window_marks_the_segment_and_its_neighbours() -> None:
    def block(x: int) -> Piece:
        return Piece(x, 10, 10, 20, np.ones((20, 10), bool))

    atoms = [block(0), block(14), block(28)]
    scale = Scale(digit_height=20.0, top=10.0, baseline=30.0, stroke=3.0)
    segment = next(s for s in candidate_segments(atoms, scale, SearchConfig()) if s.start == 1 and s.stop == 2)
    window = context_window(segment, atoms, scale)
    assert window.shape == (WINDOW, WINDOW)
    assert window.max() == pytest.approx(1.0)
    centre = window[WINDOW // 2 - 2 : WINDOW // 2 + 2, WINDOW // 2 - 2 : WINDOW // 2 + 2]
    assert np.allclose(centre, 1.0)  # the segment itself
    assert np.isclose(window[WINDOW // 2, 1], 0.5)  # the neighbour on the left, at half strength
    assert np.isclose(window[WINDOW // 2, WINDOW - 2], 0.5)  # and on the right
    assert window[0].max() == 0.0  # nothing above the writing


def test_search_takes_the_given_scores(reader: FieldReader, digits) -> None:  # noqa: F811
    canvas = Canvas(width=700)
    write(canvas, digits, "02134", gap=14)
    atoms, scale, grey = prepare(canvas.image())
    config = reader.config.search
    segments = candidate_segments(atoms, scale, config)
    probs = reader.classifier.classify_normalized(
        reader.classifier.normalize([render(s, grey) for s in segments], polarity="dark")
    ).probabilities
    plain = best_paths(atoms, segments, probs, scale, config, signs=False)
    logistic = np.array([
        log_plausibility(features(s, atoms, scale, p, digit_penalty(s, atoms, scale, config)))
        for s, p in zip(segments, probs, strict=True)
    ])  # fmt: skip
    given = best_paths(atoms, segments, probs, scale, config, signs=False, log_whole=logistic)
    assert [(p.digits, round(p.cost, 6)) for p in given] == [(p.digits, round(p.cost, 6)) for p in plain]
    # a network that is sure every segment is a whole digit makes every reading cheaper by the logistic doubt
    sure = best_paths(atoms, segments, probs, scale, config, signs=False, log_whole=np.zeros(len(segments)))
    assert sure[0].digits == "02134"
    assert sure[0].cost < plain[0].cost


def test_reader_scores_every_segment_with_the_network(reader: FieldReader, digits, tmp_path, monkeypatch) -> None:  # noqa: F811
    model = WholenessModel(_saved(tmp_path))
    calls = []
    original = model.log_whole

    def spy(normalized, context, rows):
        calls.append((normalized.shape, context.shape, rows.shape))
        return original(normalized, context, rows)

    monkeypatch.setattr(model, "log_whole", spy)
    with_net = FieldReader(reader.classifier, reader.config, wholeness=model)
    one, two = Canvas(width=700), Canvas(width=700)
    write(one, digits, "02134", gap=14)
    write(two, digits, "96785", gap=14, k=1)
    from pipeline.segment.field import FieldCrop

    results = with_net.read_many([FieldCrop(one.image(), "zip"), FieldCrop(two.image(), "zip")])
    assert len(calls) == 1  # one call for both fields' segments
    (n, h, w), (n2, ch, cw), (n3, f) = calls[0]
    assert n == n2 == n3 > 10 and (h, w) == (32, 32) and (ch, cw) == (WINDOW, WINDOW) and f == len(FEATURES)
    assert all(len(r.digits) >= 1 for r in results)


def test_reader_takes_the_shipped_network_unless_told_otherwise(reader: FieldReader, tmp_path, monkeypatch) -> None:  # noqa: F811
    monkeypatch.setenv("PIPELINE_WHOLENESS", str(_saved(tmp_path)))
    with pytest.warns(UserWarning, match="not the one the acceptance models were fitted with"):
        assert FieldReader(reader.classifier).wholeness.training == {"seed": 0}
    monkeypatch.setenv("PIPELINE_WHOLENESS", "off")
    with pytest.warns(UserWarning, match="acceptance models were fitted with the whole-digit network"):
        assert FieldReader(reader.classifier).wholeness is None  # the logistic model
    monkeypatch.delenv("PIPELINE_WHOLENESS")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        shipped = FieldReader(reader.classifier).wholeness
    # the shipped network is the one the acceptance models were fitted with: no warning about it
    assert not [w for w in caught if "acceptance models" in str(w.message)]
    assert shipped is not None and shipped.training["seed"] == 301 and shipped.training["segments"] > 50_000
    assert FieldReader(reader.classifier, wholeness=False).wholeness is None
