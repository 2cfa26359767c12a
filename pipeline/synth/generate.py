"""The generator: plans files and formats, renders, scans and writes each document, and records its truth.

Every document draws from its own random stream seeded by (seed, kind, index), so a seed always gives the same
bytes and truth, and one document can be re-made without the others.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pipeline.synth.badfiles import write_bad_files
from pipeline.synth.cheque import render_cheque
from pipeline.synth.digits import DigitSource, load_digit_source
from pipeline.synth.document import Rendered
from pipeline.synth.envelope import render_envelope
from pipeline.synth.scan import random_scan, scan, transform_box
from pipeline.synth.writers import FORMATS, write_pages

KIND_IDS = {"cheque": 1, "envelope": 2}
FOLDERS = {"cheque": "cheques", "envelope": "envelopes"}
RENDERERS = {"cheque": render_cheque, "envelope": render_envelope}
COVERED_STYLES = {"cheque": 10, "envelope": 4}  # amount formats; ZIP boxes, extra line, ZIP+4, meter

# (format, scan mode, weight): what a mixed batch of scans looks like; "tiff-multi" groups 2-3 documents per file.
FORMAT_MIX = [
    ("jpeg", "color", 0.3),
    ("jpeg", "gray", 0.18),
    ("png", "gray", 0.12),
    ("tiff", "gray", 0.05),
    ("tiff-g4", "bitonal", 0.22),
    ("tiff-multi", "bitonal", 0.13),
]
PAGE_BASE = 0  # page numbers in truth and results count from 0 (PIL's seek index); single-page files have page 0


@dataclass
class GenerationSummary:
    """What one run made: counts, files, bad files, the digit source, and the time it took."""

    out_dir: Path
    documents: int = 0
    files: int = 0
    by_kind: dict = field(default_factory=dict)
    by_format: dict = field(default_factory=dict)
    bad: list = field(default_factory=list)
    stale: list = field(default_factory=list)  # files in our folders that this run did not write (earlier runs)
    digit_source: str = ""
    seconds: float = 0.0
    bytes: int = 0

    def as_dict(self) -> dict:
        return {
            "out": str(self.out_dir),
            "documents": self.documents,
            "files": self.files,
            "by_kind": self.by_kind,
            "by_format": self.by_format,
            "bad_files": self.bad,
            "stale_files": self.stale,
            "digit_source": self.digit_source,
            "seconds": round(self.seconds, 2),
            "bytes": self.bytes,
        }


def plan_files(kind: str, count: int, seed: int, formats: list[str] | None = None) -> list[tuple[str, str, list[int]]]:
    """Split ``count`` documents of ``kind`` into files: (format, scan mode, document indices) each."""
    rng = np.random.default_rng([seed, KIND_IDS[kind], 0xF11E])
    mix = [m for m in FORMAT_MIX if formats is None or m[0] in formats]
    if not mix:
        raise ValueError(f"no usable format among {formats}; choose from {[m[0] for m in FORMAT_MIX]}")
    weights = np.array([m[2] for m in mix])
    plan, i = [], 0
    while i < count:
        fmt, mode, _ = mix[int(rng.choice(len(mix), p=weights / weights.sum()))]
        pages = min(int(rng.integers(2, 4)), count - i) if fmt == "tiff-multi" else 1
        plan.append((fmt, mode, list(range(i, i + pages))))
        i += pages
    return plan


def _file_name(kind: str, fmt: str, indices: list[int]) -> str:
    ext = FORMATS["tiff-g4" if fmt == "tiff-multi" else fmt][0]
    stem = f"{kind}_{indices[0] + 1:04d}"
    if len(indices) > 1:
        stem += f"-{indices[-1] + 1:04d}"
    return f"{FOLDERS[kind]}/{stem}{ext}"


@dataclass
class Made:
    """One rendered and scanned page with its truth fields moved into scan pixels."""

    image: np.ndarray
    fields: list[dict]
    style: dict
    rendered: Rendered
    matrix: np.ndarray


def make_document(
    kind: str,
    index: int,
    seed: int,
    mode: str,
    source: DigitSource,
    clean: bool = False,
    lossless: bool = False,
    record: bool = False,
) -> Made:
    """Render and scan one document (``record`` keeps the field ink mask, for tests).

    Bitonal scans are 200 dpi as in cheque image exchange; lossless grey files are mostly 200 dpi to stay small.
    """
    rng = np.random.default_rng([seed, KIND_IDS[kind], index])
    high = rng.random() < (0.15 if lossless else 0.45)
    dpi = 300 if high and mode != "bitonal" else 200
    # the first documents of a batch take each forced style once, in an order set by the seed
    n_cover = COVERED_STYLES[kind]
    cover = (
        int(np.random.default_rng([seed, KIND_IDS[kind], 0xC0]).permutation(n_cover)[index])
        if index < n_cover
        else None
    )
    rendered: Rendered = RENDERERS[kind](rng, source, dpi, record, cover)
    settings = random_scan(rng, mode, clean=clean, lossless=lossless)
    image, matrix = scan(rendered.image, settings, dpi, rng)
    h, w = image.shape[:2]
    fields = []
    for f in rendered.fields:
        chars = [{**c, "bbox": transform_box(c["bbox"], matrix, w, h)} for c in f["characters"]]
        fields.append({**f, "bbox": transform_box(f["bbox"], matrix, w, h), "characters": chars})
    style = {**rendered.style, "dpi": dpi, "scan": settings.as_dict()}
    for value in rendered.printed.values():  # distractors with a position move with the scan too
        if isinstance(value, dict) and "bbox" in value:
            value["bbox"] = transform_box(value["bbox"], matrix, w, h)
    return Made(image, fields, style, rendered, matrix)


def generate_samples(
    out_dir: Path,
    cheques: int,
    envelopes: int,
    seed: int = 0,
    bad: int = 0,
    data_dir: Path | None = None,
    formats: list[str] | None = None,
    progress: bool = False,
    clean: bool = False,
    split: str = "test",
) -> GenerationSummary:
    """Make ``cheques`` + ``envelopes`` documents and ``bad`` bad files in ``out_dir``, with ``truth.jsonl``.

    Handwriting comes from MNIST test + USPS test in ``data_dir`` when given, else from the bundled MNIST test
    subset (the default, so the result does not depend on what a machine has). ``clean`` turns scan degradations
    off (for tests of geometry). ``split="train"`` writes with MNIST + USPS train digits from ``data_dir``: for
    documents a model is fitted on, never for evaluation.
    """
    start = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    source = load_digit_source(data_dir, split)
    summary = GenerationSummary(out_dir, digit_source=source.name)
    jobs = [(kind, plan) for kind, n in (("cheque", cheques), ("envelope", envelopes))
            for plan in plan_files(kind, n, seed, formats)]  # fmt: skip
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=cheques + envelopes, unit="doc")
    lines = []
    for kind, (fmt, mode, indices) in jobs:
        name = _file_name(kind, fmt, indices)
        pages, page_truth = [], []
        dpi = 200
        quality = 88
        for page_no, index in enumerate(indices):
            lossless = fmt in ("png", "tiff")
            made = make_document(kind, index, seed, mode, source, clean, lossless)
            image, fields, style, rendered = made.image, made.fields, made.style, made.rendered
            dpi = rendered.dpi
            quality = int(np.random.default_rng([seed, KIND_IDS[kind], index, 7]).integers(70, 93))
            file_format = "tiff-g4" if fmt == "tiff-multi" else fmt
            style = {**style, "format": file_format, "pages_in_file": len(indices)}
            if file_format == "jpeg":
                style["jpeg_quality"] = quality
            pages.append(image)
            page_truth.append({
                "document": name,
                "page": page_no + PAGE_BASE,
                "kind": kind,
                "index": index,
                "width": int(image.shape[1]),
                "height": int(image.shape[0]),
                "dpi": dpi,
                "fields": fields,
                "style": style,
                "printed": rendered.printed,
                "seed": seed,
                "digit_source": source.name,
            })  # fmt: skip
            if bar:
                bar.update(1)
        write_pages(out_dir / name, pages, "tiff-g4" if fmt == "tiff-multi" else fmt, dpi, quality)
        lines.extend(page_truth)
        summary.files += 1
        summary.documents += len(indices)
        summary.by_kind[kind] = summary.by_kind.get(kind, 0) + len(indices)
        summary.by_format[fmt] = summary.by_format.get(fmt, 0) + len(indices)
        summary.bytes += (out_dir / name).stat().st_size
    if bar:
        bar.close()
    lines.sort(key=lambda t: (t["document"], t["page"]))
    with open(out_dir / "truth.jsonl", "w") as handle:
        for record in lines:
            handle.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
    if bad:
        summary.bad = write_bad_files(out_dir, bad, np.random.default_rng([seed, 0xBAD]))
        summary.bytes += sum(b["bytes"] for b in summary.bad)
    written = {t["document"] for t in lines} | {b["document"] for b in summary.bad}
    for folder in (*FOLDERS.values(), "bad"):
        for path in sorted((out_dir / folder).glob("*")) if (out_dir / folder).is_dir() else []:
            rel = path.relative_to(out_dir).as_posix()
            if path.is_file() and rel not in written:
                summary.stale.append(rel)
    summary.seconds = time.perf_counter() - start
    return summary
