"""The scorer: how the team measures every change to the document stages.

Results are matched to truth by (document, page) and then by field name. For each kind (cheque: the amount,
envelope: the ZIP) and overall it counts documents, processing errors, accepted fields, and the rates

- read rate: accepted and right / documents
- error rate: accepted and wrong / documents
- reject rate: not accepted (rejected, missing, or the document failed) / documents
- raw accuracy: right whatever the status / documents (what the reader would score with no reject option)
- digit accuracy: 1 - (sum of Levenshtein distances between truth and result digit strings) / (truth digits),
  over all documents, ignoring rejection, floored at 0; a missing field contributes all of its digits.

A field is right when its normalised value (:mod:`pipeline.values`) equals the truth's. ``corrected`` (a person
typed the value) counts as accepted and is also counted on its own. Missing results count as rejected. The same
figures are given per field name (amount, date, number, zip) for every field in the truth.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath

from pipeline.values import digit_string, normalise_value

PRIMARY_FIELD = {"cheque": "amount", "envelope": "zip"}
ACCEPTED = ("accepted", "corrected")


class ScoreError(ValueError):
    """A truth or results file that cannot be scored (unreadable, not JSON lines, missing keys)."""


def load_jsonl(path: Path) -> list[dict]:
    """JSON objects, one per non-blank line; a bad line stops with its file and line number."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ScoreError(f"{path}: cannot read ({exc.strerror or exc})") from None
    records = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ScoreError(f"{path}:{number}: not JSON ({exc.msg})") from None
        if not isinstance(record, dict) or "document" not in record:
            raise ScoreError(f"{path}:{number}: expected an object with a 'document' key")
        records.append(record)
    return records


def levenshtein(a: str, b: str) -> int:
    """Edit distance (insertions, deletions, substitutions, each cost 1)."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def document_key(record: dict) -> tuple[str, int]:
    """(document path as posix without a leading ./, page; 0 when absent)."""
    doc = PurePosixPath(str(record["document"]).replace("\\", "/")).as_posix()
    while doc.startswith("./"):
        doc = doc[2:]
    return doc, int(record.get("page") or 0)


@dataclass
class Tally:
    """Counts for one group of truth fields; rates are derived from them."""

    documents: int = 0
    errors: int = 0  # result present with status "error"
    missing: int = 0  # no result for the document, or no such field in it
    accepted: int = 0
    corrected: int = 0
    right: int = 0  # accepted and right
    wrong: int = 0  # accepted and wrong
    rejected: int = 0  # everything not accepted: rejected, missing, errors
    raw_right: int = 0
    digit_edits: int = 0
    digit_total: int = 0

    def add(self, outcome: dict) -> None:
        self.documents += 1
        for key in ("errors", "missing", "accepted", "corrected", "right", "wrong", "rejected", "raw_right"):
            setattr(self, key, getattr(self, key) + int(outcome[key]))
        self.digit_edits += outcome["digit_edits"]
        self.digit_total += outcome["digit_total"]

    def rates(self) -> dict:
        n = self.documents
        rate = (lambda k: round(k / n, 6)) if n else (lambda k: None)
        digit = None
        if self.digit_total:
            digit = round(max(0.0, 1 - self.digit_edits / self.digit_total), 6)
        return {
            "read_rate": rate(self.right),
            "error_rate": rate(self.wrong),
            "reject_rate": rate(self.rejected),
            "raw_accuracy": rate(self.raw_right),
            "digit_accuracy": digit,
            "error_rate_of_accepted": round(self.wrong / self.accepted, 6) if self.accepted else None,
        }

    def as_dict(self) -> dict:
        return {**asdict(self), **self.rates()}


def field_outcome(name: str, truth_field: dict, result: dict | None) -> dict:
    """How one truth field fared: accepted/right/rejected flags and the digit edit distance."""
    truth_value = normalise_value(name, truth_field.get("value"))
    truth_digits = truth_field.get("digits") or digit_string(truth_field.get("text") or truth_field.get("value"))
    out = dict.fromkeys(("errors", "missing", "accepted", "corrected", "right", "wrong", "raw_right"), False)
    out.update(rejected=True, digit_total=len(truth_digits), digit_edits=len(truth_digits))
    if result is None:
        out["missing"] = True
        return out
    if result.get("status") == "error":
        out["errors"] = True
        return out
    found = next((f for f in result.get("fields") or [] if f.get("name") == name), None)
    if found is None:
        out["missing"] = True
        return out
    value = normalise_value(name, found.get("value"))
    is_right = value is not None and value == truth_value
    digits = found.get("digits")
    if digits is None:
        digits = digit_string(found.get("text") or found.get("value"))
    out["raw_right"] = is_right
    out["digit_edits"] = levenshtein(truth_digits, str(digits))
    if found.get("status") in ACCEPTED:
        out.update(accepted=True, rejected=False, right=is_right, wrong=not is_right)
        out["corrected"] = found.get("status") == "corrected"
    return out


def style_value(record: dict, field: dict, key: str) -> str:
    """A truth style choice by dotted key, looked up in the field's style, then the document's, then the record.

    ``format`` -> the amount format or ZIP form, ``scan.mode`` -> colour/gray/bitonal, ``dpi``, ``layout``.
    """
    for source in (field.get("style") or {}, record.get("style") or {}, record):
        value = source
        for part in key.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if value is not None:
            return json.dumps(value) if isinstance(value, (dict, list)) else str(value)
    return "-"


def score(truth: list[dict], results: list[dict], group_by: tuple[str, ...] = ()) -> dict:
    """Score ``results`` against ``truth`` (both lists of document records); returns the report as a dict.

    ``group_by`` adds, per style key (see :func:`style_value`), the primary-field figures for each of its values,
    e.g. the read rate of raised cents against plain amounts, or of bitonal against colour scans.
    """
    by_key: dict[tuple[str, int], dict] = {}
    duplicates = 0
    for record in results:
        key = document_key(record)
        duplicates += key in by_key
        by_key[key] = record
    kinds: dict[str, Tally] = {}
    overall = Tally()
    fields: dict[str, Tally] = {}
    groups: dict[str, dict[str, Tally]] = {key: {} for key in group_by}
    truth_keys = set()
    for record in truth:
        key = document_key(record)
        truth_keys.add(key)
        result = by_key.get(key)
        kind = record.get("kind", "unknown")
        primary = PRIMARY_FIELD.get(kind)
        for f in record.get("fields", []):
            outcome = field_outcome(f["name"], f, result)
            fields.setdefault(f["name"], Tally()).add(outcome)
            if f["name"] == primary:
                kinds.setdefault(kind, Tally()).add(outcome)
                overall.add(outcome)
                for group_key, tallies in groups.items():
                    tallies.setdefault(f"{kind}:{style_value(record, f, group_key)}", Tally()).add(outcome)
    unmatched = sorted(k for k in by_key if k not in truth_keys)
    return {
        "overall": overall.as_dict(),
        "by_kind": {k: t.as_dict() for k, t in sorted(kinds.items())},
        "by_field": {k: t.as_dict() for k, t in sorted(fields.items())},
        "by_style": {g: {v: t.as_dict() for v, t in sorted(tallies.items())} for g, tallies in groups.items()},
        "primary_field": PRIMARY_FIELD,
        "results_without_truth": len(unmatched),
        "results_without_truth_examples": [f"{d}#{p}" for d, p in unmatched[:10]],
        "duplicate_results": duplicates,
        "digit_accuracy_definition": "1 - sum(Levenshtein(truth digits, result digits)) / sum(len(truth digits))",
    }


def format_table(report: dict) -> str:
    """The report as a fixed-width table: one row per kind, overall, then per field name."""
    head = (f"{'':<24}{'docs':>6}{'errors':>8}{'missing':>8}{'accepted':>9}{'read':>8}{'error':>8}{'reject':>8}"
            f"{'raw acc':>9}{'digit acc':>10}")  # fmt: skip

    def pct(v):
        return f"{100 * v:.1f}%" if v is not None else "-"

    def row(label: str, t: dict) -> str:
        return (f"{label:<24}{t['documents']:>6}{t['errors']:>8}{t['missing']:>8}{t['accepted']:>9}"
                f"{pct(t['read_rate']):>8}{pct(t['error_rate']):>8}{pct(t['reject_rate']):>8}"
                f"{pct(t['raw_accuracy']):>9}{pct(t['digit_accuracy']):>10}")  # fmt: skip

    lines = [head]
    lines += [row(kind, t) for kind, t in report["by_kind"].items()]
    lines.append(row("overall", report["overall"]))
    lines.append("")
    lines += [row(f"field {name}", t) for name, t in report["by_field"].items()]
    for key, values in report.get("by_style", {}).items():
        lines += ["", f"by {key}"]
        lines += [row(value[:24], t) for value, t in values.items()]
    if report["results_without_truth"]:
        lines.append(f"\n{report['results_without_truth']} result(s) without truth (e.g. bad files), not scored")
    return "\n".join(lines)


def score_files(truth_path: Path, results_path: Path, group_by: tuple[str, ...] = ()) -> dict:
    """Load both JSON-lines files and score them."""
    return score(load_jsonl(truth_path), load_jsonl(results_path), group_by)
