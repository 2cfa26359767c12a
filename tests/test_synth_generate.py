"""The generator end to end: determinism, truth boxes on the ink, every format readable back, bad files."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image, UnidentifiedImageError

from pipeline.cli import main
from pipeline.synth.badfiles import BAD_KINDS, write_bad_files
from pipeline.synth.digits import load_digit_source
from pipeline.synth.generate import FORMAT_MIX, generate_samples, make_document, plan_files
from pipeline.synth.handwriting import ALPHA_INK

FORMATS = [f for f, _, _ in FORMAT_MIX]


def _truth(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "truth.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def batch(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("batch")
    generate_samples(out, 5, 5, seed=7, bad=6)
    return out


def test_same_seed_same_bytes(tmp_path, batch):
    again = tmp_path / "again"
    generate_samples(again, 5, 5, seed=7, bad=6)
    files = sorted(p.relative_to(batch) for p in batch.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    for rel in files:
        assert (batch / rel).read_bytes() == (again / rel).read_bytes(), rel
    other = tmp_path / "other"
    generate_samples(other, 5, 5, seed=8)
    assert (other / "truth.jsonl").read_text() != (batch / "truth.jsonl").read_text()


def test_truth_records(batch):
    records = _truth(batch)
    assert len(records) == 10
    assert sorted(r["kind"] for r in records) == ["cheque"] * 5 + ["envelope"] * 5
    assert not any(r["document"].startswith("bad/") for r in records)
    for r in records:
        with Image.open(batch / r["document"]) as im:
            assert getattr(im, "n_frames", 1) == r["style"]["pages_in_file"]
            im.seek(r["page"])  # pages count from 0
            assert im.size == (r["width"], r["height"])
        names = [f["name"] for f in r["fields"]]
        assert names == (["date", "amount"] if r["kind"] == "cheque" else ["number", "zip"])
        for f in r["fields"]:
            assert f["digits"] == "".join(ch for ch in f["text"] if ch.isdigit())
            assert [c["char"] for c in f["characters"]] == list(f["text"])
            x0, y0, x1, y1 = f["bbox"]
            assert 0 <= x0 < x1 <= r["width"] and 0 <= y0 < y1 <= r["height"]
            for c in f["characters"]:
                cx0, cy0, cx1, cy1 = c["bbox"]
                assert x0 <= cx0 < cx1 <= x1 and y0 <= cy0 < cy1 <= y1
            assert "writer" in f["style"]
        assert r["digit_source"] == "bundled-mnist-test-subset"


@pytest.mark.parametrize("kind", ["cheque", "envelope"])
@pytest.mark.parametrize("mode", ["color", "bitonal"])
def test_boxes_sit_on_the_ink(kind, mode):
    """Every character box holds ink of its field, and (almost) all field ink lies inside the boxes."""
    source = load_digit_source()
    for index in range(6):
        made = make_document(kind, index, 3, mode, source, record=True)
        h, w = made.image.shape[:2]
        mask = cv2.warpAffine(made.rendered.field_mask, made.matrix, (w, h), flags=cv2.INTER_NEAREST) >= ALPHA_INK
        in_chars, in_fields = np.zeros_like(mask), np.zeros_like(mask)
        for f in made.fields:
            for c in f["characters"]:
                x0, y0, x1, y1 = c["bbox"]
                assert mask[y0:y1, x0:x1].any(), (kind, index, c)
                in_chars[y0:y1, x0:x1] = True
            x0, y0, x1, y1 = f["bbox"]
            in_fields[y0:y1, x0:x1] = True
        total = np.count_nonzero(mask)
        assert np.count_nonzero(mask & ~in_fields) <= 0.002 * total + 3  # (rounding at the edge of the warp)
        if not any(f["style"].get("underlined_cents") for f in made.fields):
            assert np.count_nonzero(mask & ~in_chars) <= 0.002 * total + 3  # an underline is not a character


def test_scanned_ink_is_dark_in_the_boxes():
    source = load_digit_source()
    made = make_document("cheque", 1, 9, "gray", source)
    paper_level = np.median(made.image)
    for f in made.fields:
        for c in f["characters"]:
            x0, y0, x1, y1 = c["bbox"]
            assert made.image[y0:y1, x0:x1].min() < paper_level - 60


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_reads_back(tmp_path, fmt):
    generate_samples(tmp_path, 2, 1, seed=1, formats=[fmt])
    records = _truth(tmp_path)
    assert len(records) == 3
    for r in records:
        path = tmp_path / r["document"]
        with Image.open(path) as im:
            im.seek(r["page"])
            im.load()
            assert round(im.info["dpi"][0]) == r["dpi"]
            if fmt in ("tiff-g4", "tiff-multi"):
                assert im.mode == "1" and im.info["compression"] == "group4" and r["dpi"] == 200
            elif fmt == "jpeg":
                assert im.format == "JPEG"
            else:
                assert im.mode == "L"
        if r["page"] == 0:
            assert cv2.imread(str(path), cv2.IMREAD_UNCHANGED) is not None
    if fmt == "tiff-multi":
        assert any(r["page"] > 0 for r in records)


def test_plan_groups_multipage_and_covers_all():
    plan = plan_files("cheque", 40, 0)
    assert sorted(i for _, _, idx in plan for i in idx) == list(range(40))
    assert all(len(idx) == 1 or fmt == "tiff-multi" for fmt, _, idx in plan)
    with pytest.raises(ValueError):
        plan_files("cheque", 3, 0, ["gif"])


def test_bad_files(tmp_path):
    made = write_bad_files(tmp_path, 6, np.random.default_rng(0))
    assert [m["defect"] for m in made] == list(BAD_KINDS)
    paths = {m["defect"]: tmp_path / m["document"] for m in made}
    assert paths["zero-bytes"].stat().st_size == 0
    with pytest.raises(UnidentifiedImageError):
        Image.open(paths["text-as-png"])
    with pytest.raises(OSError), Image.open(paths["truncated"]) as im:
        im.load()
    with Image.open(paths["wrong-extension"]) as im:
        assert paths["wrong-extension"].suffix == ".tif" and im.format == "JPEG"
    with Image.open(paths["one-pixel"]) as im:
        assert im.size == (1, 1)
    assert paths["bomb"].stat().st_size < 200_000
    with pytest.raises(Image.DecompressionBombError):
        Image.open(paths["bomb"])
    header = paths["bomb"].read_bytes()[16:24]
    assert int.from_bytes(header[:4], "big") == int.from_bytes(header[4:], "big") == 30000


def test_cli_samples(tmp_path):
    args = ["samples", "--out", str(tmp_path), "--cheques", "1", "--envelopes", "1", "--bad", "2", "--no-progress"]
    run = CliRunner().invoke(main, [*args, "--contact-sheet", str(tmp_path / "sheet.png")])
    assert run.exit_code == 0, run.output
    summary = json.loads(run.output)
    assert summary["documents"] == 2 and len(summary["bad_files"]) == 2
    assert len(_truth(tmp_path)) == 2
    assert Image.open(tmp_path / "sheet.png").size[0] > 0
    run = CliRunner().invoke(main, ["samples", "--out", str(tmp_path), "--formats", "gif", "--no-progress"])
    assert run.exit_code == 2


@pytest.mark.data
def test_data_directory_adds_usps_test_digits(tmp_path, real_data_dir):
    """With the data directory, handwriting comes from MNIST test + USPS test (never a train split)."""
    generate_samples(tmp_path, 6, 6, seed=0, data_dir=real_data_dir)
    records = _truth(tmp_path)
    assert {r["digit_source"] for r in records} == {"mnist-test+usps-test"}
    origins = {
        c["source"].split("/")[0] for r in records for f in r["fields"] for c in f["characters"] if "source" in c
    }
    assert origins <= {"mnist-test", "usps-test"} and "mnist-test" in origins


def test_stale_files_from_an_earlier_run_are_reported(tmp_path):
    generate_samples(tmp_path, 3, 0, seed=5, formats=["jpeg"])
    summary = generate_samples(tmp_path, 1, 0, seed=5, formats=["jpeg"])
    assert summary.stale == ["cheques/cheque_0002.jpg", "cheques/cheque_0003.jpg"]
    assert len(_truth(tmp_path)) == 1


def test_handwritten_return_address_is_a_distractor_not_a_field():
    source = load_digit_source()
    seen = 0
    for index in range(30):
        made = make_document("envelope", index, 12, "gray", source)
        if made.style["return_address"] != "handwritten":
            assert "return_zip" in made.rendered.printed
            continue
        seen += 1
        distractor = made.rendered.printed["return_zip_handwritten"]
        x0, y0, x1, y1 = distractor["bbox"]
        h, w = made.image.shape[:2]
        assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h
        assert made.image[y0:y1, x0:x1].min() < np.median(made.image) - 60  # real ink there
        assert [f["name"] for f in made.fields] == ["number", "zip"]
        assert y1 < made.fields[1]["bbox"][1]  # above the destination ZIP
    assert seen >= 3


def test_train_digits_need_a_data_directory(tmp_path) -> None:
    """Documents written with train digits (for fitting models) never fall back to the bundled test digits."""
    import pytest

    from pipeline.synth.digits import load_digit_source

    with pytest.raises(ValueError, match="data directory"):
        load_digit_source(None, "train")
    with pytest.raises(ValueError, match="split"):
        load_digit_source(tmp_path, "val")
