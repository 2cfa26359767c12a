"""End-to-end check of the document stages on generated documents and on the real IDRBT cheques.

    .venv/bin/python benchmarks/eval_documents.py --generate 500 500 --seed 9173 --out /tmp/docs-9173
    .venv/bin/python benchmarks/eval_documents.py --docs /tmp/docs-9173          # re-run on existing documents

Every page goes through load_pages -> read_pages (orientation, kind, location, read_many over the whole batch), the
results are written as results.jsonl (field boxes as [x0, y0, x1, y1] page pixels, like the truth) and scored
with pipeline.score. Location rate: the primary field (cheque: amount, envelope: zip) counts as located when the
box the pipeline reports for its ink overlaps the truth box with IoU >= 0.5 (truth boxes are the tight ink box).

IDRBT (--idrbt, default ../shared/data/idrbt-cheques-dev when present): each half-resolution cheque is read as
kind ``cheque``; the zone counts as found when at least half of the reported amount box lies inside the
annotated 'Amt' box of fields.csv (scaled to the scan); raw digit accuracy compares the digits read, accepted or
not, with courtesy_amounts.csv by Levenshtein distance (1 - edits / truth digits).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

from pipeline.score import levenshtein, load_jsonl, score
from pipeline.segment.document import PageInput, PageResult, read_pages
from pipeline.segment.field import FieldReader, ReaderConfig
from pipeline.segment.pages import Page, PageError, ScanError, load_pages
from pipeline.segment.zipcode import ZipBook

PRIMARY = {"cheque": "amount", "envelope": "zip"}
DEFAULT_IDRBT = Path(__file__).resolve().parents[2] / "shared" / "data" / "idrbt-cheques-dev"


def iou(a, b) -> float:
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def field_record(f) -> dict:
    d = f.to_dict()
    if d.get("bbox") is not None:
        x, y, w, h = d["bbox"]
        d["bbox"] = [x, y, x + w, y + h]
    d.pop("characters", None)
    return d


def run_folder(root: Path, batch: int, auto_kind: bool, reader: FieldReader) -> tuple[list[dict], dict]:
    """Read every document page listed in root/truth.jsonl; returns the result records and timings."""
    truth = load_jsonl(root / "truth.jsonl")
    kinds = {(t["document"], int(t.get("page") or 0)): t["kind"] for t in truth}
    documents = sorted({t["document"] for t in truth})
    records: list[dict] = []
    pending: list[tuple[dict, PageInput]] = []
    timing = {"load": 0.0, "locate_and_read": 0.0, "pages": 0}

    def flush() -> None:
        if not pending:
            return
        t0 = time.perf_counter()
        outcomes: list[PageResult] = read_pages([p for _r, p in pending], reader)
        timing["locate_and_read"] += time.perf_counter() - t0
        for (record, _p), outcome in zip(pending, outcomes, strict=True):
            if outcome.error:
                record.update(status="error", error=outcome.error)
            record["fields"] = [field_record(f) for f in outcome.fields]
            record["turned"], record["skew"] = outcome.turned, outcome.skew
            record["located_kind"] = outcome.kind
            records.append(record)
        pending.clear()

    for doc in documents:
        t0 = time.perf_counter()
        try:
            pages = list(load_pages(root / doc))
        except ScanError as exc:
            pages = []
            for (d, p), kind in kinds.items():
                if d == doc:
                    records.append({"document": doc, "page": p, "kind": kind, "status": "error", "error": str(exc)})
        timing["load"] += time.perf_counter() - t0
        for page in pages:
            kind = kinds.get((doc, page.index), "auto")
            base = {"document": doc, "page": page.index, "kind": kind, "status": "ok", "error": None}
            if isinstance(page, PageError):
                records.append({**base, "status": "error", "error": page.message, "fields": []})
                continue
            assert isinstance(page, Page)
            timing["pages"] += 1
            pending.append((base, PageInput(page.image, page.dpi, "auto" if auto_kind else kind,
                                            page.dpi_from_metadata)))  # fmt: skip
            if len(pending) >= batch:
                flush()
    flush()
    return records, timing


def _true_zip(truth: dict) -> str:
    return next((f["digits"] for f in truth["fields"] if f["name"] == "zip"), "")


def location_report(truth: list[dict], records: list[dict]) -> dict:
    by_key = {(r["document"], r["page"]): r for r in records}
    out: dict[str, dict] = {}
    for t in truth:
        name = PRIMARY.get(t["kind"])
        tf = next((f for f in t["fields"] if f["name"] == name), None)
        if tf is None:
            continue
        r = by_key.get((t["document"], int(t.get("page") or 0)), {})
        rf = next((f for f in r.get("fields", []) if f.get("name") == name), None)
        hit = bool(rf and rf.get("bbox") and iou(rf["bbox"], tf["bbox"]) >= 0.5)
        tally = out.setdefault(t["kind"], {"documents": 0, "located": 0, "kind_right": 0})
        tally["documents"] += 1
        tally["located"] += hit
        tally["kind_right"] += r.get("located_kind") == t["kind"]
    for tally in out.values():
        tally["location_rate"] = round(tally["located"] / tally["documents"], 4)
    return out


def idrbt_report(root: Path, reader: FieldReader) -> dict:
    with open(root / "fields.csv", newline="") as handle:
        amt = {r["cheque"]: r for r in csv.DictReader(handle) if r["field"] == "Amt"}
    with open(root / "courtesy_amounts.csv", newline="") as handle:
        truth = {r["cheque"]: r for r in csv.DictReader(handle)}
    files = sorted((root / "scans_halfres").glob("*.jpg"))
    inputs, names = [], []
    for f in files:
        page = next(load_pages(f))
        inputs.append(PageInput(page.image, page.dpi, "cheque", page.dpi_from_metadata))
        names.append(f.stem)
    outcomes = read_pages(inputs, reader)
    found = edits = total = 0
    rows = []
    for name, page, outcome in zip(names, inputs, outcomes, strict=True):
        a = amt[name]
        s = page.image.shape[1] / float(a["orig_width"])
        box = [float(a["x1"]) * s, float(a["y1"]) * s, float(a["x2"]) * s, float(a["y2"]) * s]
        f = outcome.fields[0] if outcome.fields else None
        hit = False
        if f is not None and f.bbox is not None:
            x, y, w, h = f.bbox
            inside = max(0, min(x + w, box[2]) - max(x, box[0])) * max(0, min(y + h, box[3]) - max(y, box[1]))
            hit = inside >= 0.5 * w * h
        found += hit
        digits = truth[name]["digits"]
        read = f.digits if f is not None else ""
        edits += levenshtein(digits, read)
        total += len(digits)
        rows.append({"cheque": name, "found": hit, "truth": digits, "read": read,
                     "status": f.status if f else None, "reason": f.reason if f else None})  # fmt: skip
    return {"found": found, "cheques": len(files), "raw_digit_accuracy": round(max(0.0, 1 - edits / total), 4),
            "exact": sum(r["truth"] == r["read"] for r in rows), "rows": rows}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=Path, help="existing folder with truth.jsonl")
    ap.add_argument("--generate", nargs=2, type=int, metavar=("CHEQUES", "ENVELOPES"))
    ap.add_argument("--seed", type=int, default=9173)
    ap.add_argument("--out", type=Path, default=Path("/tmp/eval-documents"))
    ap.add_argument("--batch", type=int, default=32, help="pages per read_pages call")
    ap.add_argument("--auto-kind", action="store_true", help="pass kind 'auto' instead of the truth's kind")
    ap.add_argument("--idrbt", type=Path, default=DEFAULT_IDRBT)
    ap.add_argument("--no-idrbt", action="store_true")
    ap.add_argument("--json", type=Path, help="write the whole report here")
    ap.add_argument("--valid-zips", action="store_true",
                    help="read ZIPs against the list of valid US codes (the zipcodes package); ZIPs are also scored "
                         "apart on the envelopes whose true code is a valid one")  # fmt: skip
    args = ap.parse_args(argv)

    root = args.docs
    if args.generate:
        from pipeline.synth.generate import generate_samples

        root = args.out
        t0 = time.perf_counter()
        generate_samples(root, args.generate[0], args.generate[1], seed=args.seed)
        print(f"generated {sum(args.generate)} documents (seed {args.seed}) in {time.perf_counter() - t0:.1f} s")
    book = ZipBook.us() if args.valid_zips else None
    reader = FieldReader(config=ReaderConfig(zip_book=book))
    report: dict = {}
    if root is not None:
        t0 = time.perf_counter()
        records, timing = run_folder(root, args.batch, args.auto_kind, reader)
        elapsed = time.perf_counter() - t0
        results_path = root / "results.jsonl"
        with open(results_path, "w") as handle:
            for r in records:
                handle.write(json.dumps(r, ensure_ascii=False) + "\n")
        truth = load_jsonl(root / "truth.jsonl")
        scored = score(truth, records)
        report["location"] = location_report(truth, records)
        report["score"] = {k: scored[k] for k in ("overall", "by_kind")}
        report["timing"] = {**{k: round(v, 2) for k, v in timing.items()}, "seconds": round(elapsed, 2),
                            "docs_per_s": round(timing["pages"] / elapsed, 2)}  # fmt: skip
        report["results"] = str(results_path)
        print(f"results: {results_path}")
        for kind, loc in report["location"].items():
            s = scored["by_kind"].get(kind, {})
            print(f"{kind:9s} docs {loc['documents']:5d}  located {loc['location_rate']:.2%}  kind right "
                  f"{loc['kind_right']}/{loc['documents']}  read {s.get('read_rate', 0):.2%}  error "
                  f"{s.get('error_rate', 0):.2%}  reject {s.get('reject_rate', 0):.2%}  raw "
                  f"{s.get('raw_accuracy', 0):.2%}  digit acc {s.get('digit_accuracy') or 0:.2%}")  # fmt: skip
        if book is not None:
            # generated ZIPs are random five-digit numbers; about 43% of them exist, and only there does the list help
            listed = [t for t in truth if t["kind"] == "envelope" and _true_zip(t)[:5] in book]
            keys = {(t["document"], int(t.get("page") or 0)) for t in listed}
            part = score(listed, [r for r in records if (r["document"], r["page"]) in keys])["by_kind"]["envelope"]
            report["listed_zips"] = {"documents": len(listed), **part}
            print(f"envelopes whose true ZIP is a valid code: {len(listed)}  read {part['read_rate']:.2%}  error "
                  f"{part['error_rate']:.2%}  raw {part['raw_accuracy']:.2%}")  # fmt: skip
        print(
            f"throughput: {report['timing']['docs_per_s']} docs/s end to end incl. the network "
            f"({timing['pages']} pages, {elapsed:.1f} s; load {timing['load']:.1f} s)"
        )
    if not args.no_idrbt and args.idrbt and (args.idrbt / "fields.csv").exists():
        report["idrbt"] = idrbt_report(args.idrbt, reader)
        r = report["idrbt"]
        print(f"idrbt: amount zone found {r['found']}/{r['cheques']}, raw digit accuracy {r['raw_digit_accuracy']:.2%}"
              f", exact {r['exact']}/{r['cheques']}")  # fmt: skip
        for row in r["rows"]:
            print(f"  {row['cheque']} found={row['found']} truth={row['truth']} read={row['read']} {row['status']}"
                  f" {row['reason'] or ''}")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
