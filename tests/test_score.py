"""The scorer's arithmetic on hand-made truth and results, and the value normalisation it shares with truth."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.score import ScoreError, format_table, levenshtein, load_jsonl, score
from pipeline.values import normalise_amount, normalise_value, normalise_zip


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1,234.56", "1234.56"),
        ("1234.56", "1234.56"),
        ("57", "57"),
        ("57.00", "57"),
        ("22.970.-", "22970"),
        ("7,67,000/-", "767000"),
        ("125/xx", "125"),
        ("125.-", "125"),
        ("125.—", "125"),
        ("*$1,000.50", "1000.50"),
        ("$0.05", "0.05"),
        ("1.234,56", "1234.56"),
        ("88,00,000/-", "8800000"),
    ],
)
def test_amount_normalisation(text, value):
    assert normalise_amount(text) == value


def test_zip_and_unparsable_values():
    assert normalise_zip("12345") == "12345"
    assert normalise_zip("123456789") == "12345-6789"
    assert normalise_zip(" 12345 - 6789") == "12345-6789"
    with pytest.raises(ValueError):
        normalise_amount("twelve")
    assert normalise_value("amount", "twelve") == "twelve"
    assert normalise_value("amount", None) is None


def test_levenshtein():
    assert levenshtein("", "") == 0
    assert levenshtein("123", "123") == 0
    assert levenshtein("123", "13") == 1
    assert levenshtein("123", "1243") == 1
    assert levenshtein("12345", "") == 5
    assert levenshtein("kitten", "sitting") == 3


def _truth(doc, kind, name, value, digits, page=0):
    return {"document": doc, "page": page, "kind": kind, "fields": [{"name": name, "value": value, "digits": digits}]}


def _result(doc, name, value, status="accepted", page=0, doc_status="ok", digits=None):
    field = {"name": name, "status": status, "value": value}
    if digits is not None:
        field["digits"] = digits
    return {"document": doc, "page": page, "status": doc_status, "fields": [field]}


@pytest.fixture
def case():
    truth = [
        _truth("c/1.jpg", "cheque", "amount", "1234.56", "123456"),  # accepted, right ("1,234.56")
        _truth("c/2.jpg", "cheque", "amount", "57", "57"),  # accepted, wrong (58)
        _truth("c/3.jpg", "cheque", "amount", "125", "125"),  # rejected but raw right
        _truth("c/4.tif", "cheque", "amount", "22970", "22970", page=0),  # missing result
        _truth("c/4.tif", "cheque", "amount", "767000", "767000", page=1),  # document error
        _truth("e/1.png", "envelope", "zip", "12345", "12345"),  # accepted, right
        _truth("e/2.png", "envelope", "zip", "12345-6789", "123456789"),  # corrected, right
        _truth("e/3.png", "envelope", "zip", "98765", "98765"),  # rejected, wrong, one digit off
    ]
    results = [
        _result("c/1.jpg", "amount", "1,234.56"),
        _result("c/2.jpg", "amount", "58"),
        _result("./c/3.jpg", "amount", "125/xx", status="rejected"),
        _result("c/4.tif", "amount", None, page=1, doc_status="error"),
        _result("e/1.png", "zip", "12345"),
        _result("e/2.png", "zip", "123456789", status="corrected"),
        _result("e/3.png", "zip", "98766", status="rejected"),
        _result("bad/empty.png", "zip", None, doc_status="error"),  # no truth: reported, not scored
    ]
    return truth, results


def test_counts_and_rates(case):
    report = score(*case)
    cheque, envelope, overall = report["by_kind"]["cheque"], report["by_kind"]["envelope"], report["overall"]
    assert (cheque["documents"], cheque["accepted"], cheque["right"], cheque["wrong"]) == (5, 2, 1, 1)
    assert (cheque["rejected"], cheque["missing"], cheque["errors"], cheque["raw_right"]) == (3, 1, 1, 2)
    assert cheque["read_rate"] == 0.2 and cheque["error_rate"] == 0.2 and cheque["reject_rate"] == 0.6
    assert cheque["raw_accuracy"] == 0.4
    # digits: 6 + 2 + 3 + 5 + 6 = 22 truth digits; edits 0 + 1 (57 -> 58) + 0 + 5 + 6 = 12
    assert cheque["digit_total"] == 22 and cheque["digit_edits"] == 12
    assert cheque["digit_accuracy"] == pytest.approx(1 - 12 / 22, abs=1e-6)
    assert (envelope["documents"], envelope["accepted"], envelope["corrected"], envelope["right"]) == (3, 2, 1, 2)
    assert envelope["reject_rate"] == pytest.approx(1 / 3, abs=1e-6)
    assert envelope["digit_accuracy"] == pytest.approx(1 - 1 / 19, abs=1e-6)
    assert overall["documents"] == 8 and overall["right"] == 3 and overall["wrong"] == 1
    assert overall["read_rate"] + overall["error_rate"] + overall["reject_rate"] == pytest.approx(1.0)
    assert overall["error_rate_of_accepted"] == 0.25
    assert report["results_without_truth"] == 1
    assert "cheque" in format_table(report) and "overall" in format_table(report)


def test_no_results_means_all_rejected(case):
    truth, _ = case
    report = score(truth, [])
    assert report["overall"]["reject_rate"] == 1.0
    assert report["overall"]["missing"] == 8
    assert report["overall"]["digit_accuracy"] == 0.0


def test_perfect_results(case):
    truth, _ = case
    results = [
        {"document": t["document"], "page": t["page"], "status": "ok",
         "fields": [{**f, "status": "accepted"} for f in t["fields"]]}
        for t in truth
    ]  # fmt: skip
    report = score(truth, results)
    assert report["overall"]["read_rate"] == 1.0
    assert report["overall"]["error_rate"] == 0.0
    assert report["overall"]["digit_accuracy"] == 1.0


def test_secondary_fields_are_scored_by_name():
    truth = [{"document": "e.png", "kind": "envelope", "fields": [
        {"name": "zip", "value": "12345", "digits": "12345"},
        {"name": "number", "value": "42", "digits": "42"}]}]  # fmt: skip
    results = [{"document": "e.png", "status": "ok", "fields": [
        {"name": "zip", "status": "accepted", "value": "12345"}]}]  # fmt: skip
    report = score(truth, results)
    assert report["by_kind"]["envelope"]["read_rate"] == 1.0
    assert report["by_field"]["number"]["missing"] == 1
    assert report["overall"]["documents"] == 1  # only the primary field counts per document


def test_bad_jsonl_names_the_line(tmp_path):
    path = tmp_path / "results.jsonl"
    path.write_text('{"document": "a.png"}\n\nnot json\n')
    with pytest.raises(ScoreError, match=r"results.jsonl:3"):
        load_jsonl(path)


def test_cli_table_and_json(tmp_path, case):
    truth, results = case
    (tmp_path / "truth.jsonl").write_text("".join(json.dumps(t) + "\n" for t in truth))
    (tmp_path / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in results))
    args = ["score", "--truth", str(tmp_path / "truth.jsonl"), "--results", str(tmp_path / "results.jsonl")]
    run = CliRunner().invoke(main, [*args, "--json", str(tmp_path / "report.json")])
    assert run.exit_code == 0, run.output
    assert "overall" in run.output
    assert json.loads((tmp_path / "report.json").read_text())["overall"]["documents"] == 8
    run = CliRunner().invoke(main, [*args, "--json", "-"])
    assert json.loads(run.output)["by_kind"]["cheque"]["right"] == 1


def test_breakdown_by_style():
    truth = [
        {"document": "a.jpg", "kind": "cheque", "style": {"scan": {"mode": "bitonal"}},
         "fields": [{"name": "amount", "value": "5", "digits": "5", "style": {"format": "no_cents"}}]},
        {"document": "b.jpg", "kind": "cheque", "style": {"scan": {"mode": "color"}},
         "fields": [{"name": "amount", "value": "7.5", "digits": "75", "style": {"format": "plain"}}]},
    ]  # fmt: skip
    fields = [{"name": "amount", "status": "accepted", "value": "5"}]
    results = [{"document": "a.jpg", "status": "ok", "fields": fields}]
    report = score(truth, results, group_by=("format", "scan.mode", "missing.key"))
    assert report["by_style"]["format"]["cheque:no_cents"]["read_rate"] == 1.0
    assert report["by_style"]["format"]["cheque:plain"]["reject_rate"] == 1.0
    assert set(report["by_style"]["scan.mode"]) == {"cheque:bitonal", "cheque:color"}
    assert report["by_style"]["missing.key"]["cheque:-"]["documents"] == 2
    assert "by scan.mode" in format_table(report)
