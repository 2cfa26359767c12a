import json

import cv2
import numpy as np
import pytest
import torch
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.recognize.classifier import DigitClassifier
from pipeline.recognize.weights import SHIPPED_WEIGHTS, WeightsError, load_weights


@pytest.fixture(scope="module")
def classifier() -> DigitClassifier:
    return DigitClassifier(device="cpu")


def test_outputs_are_consistent(classifier, mnist_subset):
    images, _ = mnist_subset
    p = classifier.classify(list(images[:64]))
    assert len(p) == 64
    assert p.probabilities.shape == (64, 10)
    assert np.allclose(p.probabilities.sum(1), 1, atol=1e-5)
    assert np.array_equal(p.top3[:, 0], p.labels)
    assert np.all(np.diff(p.top3_probabilities, axis=1) <= 1e-7)  # best first
    assert np.array_equal(p.accepted, p.scores >= classifier.threshold)
    assert np.allclose(p.scores, p.probabilities.max(1))


def test_batches_do_not_change_answers(mnist_subset):
    images, _ = mnist_subset
    small = DigitClassifier(device="cpu", batch_size=7).classify(list(images[:30]))
    large = DigitClassifier(device="cpu", batch_size=1024).classify(list(images[:30]))
    assert np.array_equal(small.labels, large.labels)
    assert np.allclose(small.probabilities, large.probabilities, atol=1e-5)


def test_the_network_always_sees_whole_chunks(mnist_subset):
    """Every call runs the network on ``batch_size`` inputs, the last chunk padded to a multiple of a quarter of
    that: a reading process then meets four input shapes at most, and its memory stays flat (shape-keyed kernel
    caches stop growing), while a small call does not pay for a whole chunk."""
    images, _ = mnist_subset
    classifier = DigitClassifier(device="cpu", batch_size=16)
    seen = []
    network = classifier.model

    def recording(x):
        seen.append(tuple(x.shape))
        return network(x)

    classifier.model = recording
    whole = classifier.classify(list(images[:37]))
    one = classifier.classify(list(images[36:37]))
    five = classifier.classify(list(images[:5]))
    assert [shape[0] for shape in seen] == [16, 16, 8, 4, 8]
    assert np.allclose(five.probabilities, whole.probabilities[:5], atol=1e-5)
    assert len(whole) == 37 and len(one) == 1
    assert whole.labels[36] == one.labels[0]
    assert np.allclose(whole.probabilities[36], one.probabilities[0], atol=1e-5)


def test_empty_batch(classifier):
    p = classifier.classify([])
    assert len(p) == 0 and p.probabilities.shape == (0, 10)


def test_target_error_moves_the_threshold():
    strict = DigitClassifier(device="cpu", target_error=0.0005)
    loose = DigitClassifier(device="cpu", target_error=0.01)
    assert strict.threshold >= loose.threshold


def test_cuda_request_without_cuda_is_an_error():
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(RuntimeError, match="no CUDA"):
        DigitClassifier(device="cuda")


def test_corrupt_and_foreign_weights_are_refused(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(SHIPPED_WEIGHTS.read_bytes()[:1000])
    with pytest.raises(WeightsError, match="corrupt"):
        load_weights(bad)
    other = tmp_path / "other.pt"
    torch.save({"format": "something-else"}, other)
    with pytest.raises(WeightsError, match="not a lenet5-weights"):
        load_weights(other)
    with pytest.raises(WeightsError, match="not found"):
        load_weights(tmp_path / "missing.pt")


def test_digits_command_reads_folder_and_reports_bad_files(tmp_path, mnist_subset):
    images, labels = mnist_subset
    folder = tmp_path / "digits"
    folder.mkdir()
    rows = ["file,label"]
    for i in range(12):
        cv2.imwrite(str(folder / f"d{i:02d}.png"), 255 - images[i])
        rows.append(f"d{i:02d}.png,{labels[i]}")
    (folder / "labels.csv").write_text("\n".join(rows) + "\n")
    (folder / "broken.png").write_bytes(b"this is not a png")
    (folder / "empty.png").write_bytes(b"")
    result = CliRunner().invoke(main, ["digits", str(folder), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["files"] == 14 and summary["errors"] == 2 and summary["labelled"] == 12
    assert summary["raw_accuracy"] >= 11 / 12
    lines = [json.loads(line) for line in (tmp_path / "out" / "digits.jsonl").read_text().splitlines()]
    assert {r["file"] for r in lines if r["status"] == "error"} == {"broken.png", "empty.png"}
    ok = [r for r in lines if r["status"] == "ok"]
    assert all(len(r["alternatives"]) == 3 for r in ok)


def test_evaluate_command_writes_json_and_plot(tmp_path, fake_data_dir):
    out = tmp_path / "eval.json"
    plot = tmp_path / "curve.png"
    args = ["evaluate", "--data", str(fake_data_dir), "--json", str(out), "--plot", str(plot), "--device", "cpu"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    for name in ("mnist", "usps", "orand"):
        entry = data[name]
        assert set(entry) >= {"n", "error_rate", "reject_for_error", "at_threshold"}
        assert set(entry["reject_for_error"]) == {"0.01", "0.005", "0.001"}
        assert set(entry["at_threshold"]) == {"error_rate", "reject_rate"}
        assert 0 <= entry["error_rate"] <= 1
    assert data["mnist"]["n"] == 200 and data["usps"]["n"] == 60
    assert plot.stat().st_size > 1000 and plot.read_bytes()[:4] == b"\x89PNG"
    assert "confusion matrix, mnist" in result.output


def test_missing_data_dir_is_one_clear_line(tmp_path):
    result = CliRunner().invoke(main, ["evaluate", "--data", str(tmp_path / "nowhere")])
    assert result.exit_code == 2
    assert "error: data directory" in result.output and "Traceback" not in result.output


def test_calibrate_command_stores_a_new_threshold(tmp_path):
    copy = tmp_path / "lenet5.pt"
    copy.write_bytes(SHIPPED_WEIGHTS.read_bytes())
    result = CliRunner().invoke(main, ["calibrate", str(copy), "--target-error", "0.01"])
    assert result.exit_code == 0, result.output
    loaded = load_weights(copy)
    assert loaded.calibration.target_error == 0.01
    assert loaded.calibration.threshold == loaded.calibration.threshold_for(0.01)
    assert loaded.calibration.threshold <= load_weights(SHIPPED_WEIGHTS).calibration.threshold


def test_help_exits_cleanly():
    for args in (["--help"], ["train", "--help"], ["evaluate", "--help"]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0 and "Usage" in result.output and "error:" not in result.output


def test_inputs_of_any_float_dtype_or_layout_read_the_same(classifier):
    x = np.random.default_rng(1).random((40, 32, 32), dtype=np.float32)
    reference = classifier.classify_normalized(x)
    as_float64 = classifier.classify_normalized(x.astype(np.float64))
    mirrored = classifier.classify_normalized(np.ascontiguousarray(x[:, :, ::-1])[:, :, ::-1])  # a negative stride
    assert np.array_equal(reference.labels, as_float64.labels)
    assert np.allclose(reference.probabilities, as_float64.probabilities, atol=1e-6)
    assert np.array_equal(reference.probabilities, mirrored.probabilities)
