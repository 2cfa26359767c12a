"""The committed samples/ folder: consistent with its truth, small, MNIST-only, and what the generator makes."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from pipeline.synth.generate import generate_samples

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
SEED, BAD = 4, 2  # the command in samples/ATTRIBUTION.md


def _records(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "truth.jsonl").read_text().splitlines() if line.strip()]


def test_samples_match_their_truth():
    records = _records(SAMPLES)
    kinds = [r["kind"] for r in records]
    assert kinds.count("cheque") == 12 and kinds.count("envelope") == 12
    formats = {r["style"]["format"] for r in records}
    assert {"jpeg", "png", "tiff", "tiff-g4"} <= formats
    assert any(r["style"]["pages_in_file"] > 1 for r in records)
    for r in records:
        with Image.open(SAMPLES / r["document"]) as im:
            im.seek(r["page"])
            assert im.size == (r["width"], r["height"])
        for f in r["fields"]:
            x0, y0, x1, y1 = f["bbox"]
            assert 0 <= x0 < x1 <= r["width"] and 0 <= y0 < y1 <= r["height"]
            for c in f["characters"]:
                source = c.get("source")
                assert source is None or (source.startswith("mnist-test/") and int(source.split("/")[1]) % 10 == 0)
        assert r["digit_source"] == "bundled-mnist-test-subset"


def test_samples_are_small_and_attributed():
    ours = [p for sub in ("cheques", "envelopes", "bad") for p in (SAMPLES / sub).rglob("*") if p.is_file()]
    total = sum(p.stat().st_size for p in ours) + (SAMPLES / "truth.jsonl").stat().st_size
    assert total < 5_000_000
    assert len(list((SAMPLES / "bad").iterdir())) == 2
    assert not any(r["document"].startswith("bad/") for r in _records(SAMPLES))
    text = (SAMPLES / "ATTRIBUTION.md").read_text()
    assert "CC BY-SA 3.0" in text and "LeCun" in text and f"--seed {SEED} --bad {BAD}" in text


def test_generator_remakes_the_samples_truth(tmp_path):
    """Regenerating with the recorded command gives the same documents and values (pixels may differ by library)."""
    generate_samples(tmp_path, 12, 12, seed=SEED, bad=BAD)
    key = lambda r: (r["document"], r["page"], [(f["name"], f["text"], f["value"]) for f in r["fields"]])  # noqa: E731
    assert [key(r) for r in _records(tmp_path)] == [key(r) for r in _records(SAMPLES)]
    assert sorted(p.name for p in (tmp_path / "bad").iterdir()) == sorted(p.name for p in (SAMPLES / "bad").iterdir())
