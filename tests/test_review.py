"""The review page below the browser: validation, leases, decisions and exports, security, export-corrections."""

from __future__ import annotations

import csv
import json
import sqlite3
import threading
from datetime import timedelta
from pathlib import Path

import cv2
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from pipeline.cli import main
from pipeline.flows.exports import export_all
from pipeline.flows.store import ResultStore
from pipeline.review import queue
from pipeline.review.app import ReviewSettings, create_app
from pipeline.review.db import connect, prepare_store, utcnow
from pipeline.review.decisions import Conflict, decide, reopen_last
from pipeline.review.export import export_corrections
from pipeline.review.keyed import InvalidValue, parse_keyed
from pipeline.review.security import TokenRequired, check_bind
from pipeline.review.view import load_field
from tests.review_helper import FIELDS, build_review_out

LOCAL = "http://127.0.0.1:8000"
TOKEN = "correct-horse-battery-staple-42"


@pytest.fixture
def review_out(tmp_path, mnist_subset):
    return build_review_out(tmp_path, *mnist_subset)


@pytest.fixture
def db(review_out):
    connection = connect(prepare_store(review_out.out))
    yield connection
    connection.close()


def field_ids(db: sqlite3.Connection) -> dict[str, int]:
    return {r[0]: r[1] for r in db.execute(
        "SELECT d.document, f.id FROM fields f JOIN documents d ON d.id = f.document_id")}  # fmt: skip


# -- validation -------------------------------------------------------------------------------------------------------


def test_amounts_are_validated_and_normalised_like_results():
    assert parse_keyed("amount", " 1,234.56 ") == parse_keyed("amount", "1,234.56")
    keyed = parse_keyed("amount", "1,234.56")
    assert (keyed.value, keyed.digits, keyed.text) == ("1234.56", "123456", "1,234.56")
    assert parse_keyed("amount", "57.00").value == "57"
    assert parse_keyed("amount", "7,67,000/-").value == "767000"
    for bad in ["", "   ", "12a", "abc", "1,2x", "١٢٣", "9" * 41]:
        with pytest.raises(InvalidValue):
            parse_keyed("amount", bad)


def test_zip_needs_five_or_nine_digits_with_a_clear_message():
    assert parse_keyed("zip", "12345").value == "12345"
    assert parse_keyed("zip", "12345-6789").value == "12345-6789"
    assert parse_keyed("zip", "123456789").value == "12345-6789"
    with pytest.raises(InvalidValue, match=r"5 or 9 digits.*this has 4"):
        parse_keyed("zip", "1234")
    with pytest.raises(InvalidValue, match="this has 8"):
        parse_keyed("zip", "12345-678")
    for bad in ["1234-56789", "12a45", "12345--6789", "٠١٢٣٤"]:
        with pytest.raises(InvalidValue):
            parse_keyed("zip", bad)


def test_number_takes_digits_only():
    assert parse_keyed("number", "0042").value == "0042"
    for bad in ["12 3", "12.3", "-5"]:
        with pytest.raises(InvalidValue, match="digits only"):
            parse_keyed("number", bad)


# -- leases -----------------------------------------------------------------------------------------------------------


def test_two_reviewers_never_get_the_same_field_and_lapsed_leases_return(review_out, db):
    now = utcnow()
    everything = queue.Filters()
    first = queue.claim(db, "s-ann", "Ann", everything, now)
    second = queue.claim(db, "s-bob", "Bob", everything, now)
    assert first is not None and second is not None and first != second
    ids = field_ids(db)
    assert first == ids["amount_a.png"]  # oldest first
    assert queue.claim(db, "s-ann", "Ann", everything, now + timedelta(seconds=30)) == first  # a reload: same field
    assert queue.renew(db, "s-ann", first, now + timedelta(seconds=200), 300)

    # Ann walks away: her lease (renewed at +200 s) lapses at +500 s; Cay then gets her field, the oldest
    later = now + timedelta(seconds=501)
    assert queue.claim(db, "s-cay", "Cay", everything, later) == first
    assert not queue.renew(db, "s-ann", first, later, 300)
    with pytest.raises(Conflict, match="now with Cay"):
        decide(db, first, "s-ann", "Ann", "correct", parse_keyed("amount", "1234"), later)
    decide(db, first, "s-cay", "Cay", "correct", parse_keyed("amount", "1234"), later)
    with pytest.raises(Conflict, match="already settled by Cay"):
        decide(db, first, "s-bob", "Bob", "unreadable", None, later)


def test_concurrent_claims_from_separate_connections_are_distinct(review_out):
    path = prepare_store(review_out.out)
    now = utcnow()
    claimed: list[int | None] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def reviewer(k: int) -> None:
        connection = connect(path)
        barrier.wait()
        got = queue.claim(connection, f"s{k}", f"R{k}", queue.Filters(), now)
        connection.close()
        with lock:
            claimed.append(got)

    threads = [threading.Thread(target=reviewer, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    got = [c for c in claimed if c is not None]
    assert len(got) == len(FIELDS) and len(set(got)) == len(FIELDS)  # five fields, eight reviewers
    assert claimed.count(None) == 8 - len(FIELDS)


def test_skip_filters_and_progress(review_out, db):
    now = utcnow()
    ids = field_ids(db)
    first = queue.claim(db, "s-ann", "Ann", queue.Filters(), now)
    queue.skip(db, "s-ann", "Ann", first, now)
    assert queue.claim(db, "s-ann", "Ann", queue.Filters(), now) == ids["zip_a.png"]  # skipped goes last for Ann
    assert queue.claim(db, "s-bob", "Bob", queue.Filters(), now) == first  # ...but not for Bob
    zips = queue.Filters.parse("zip", None, None)
    assert queue.claim(db, "s-ann", "Ann", zips, now) == ids["zip_a.png"]
    assert queue.claim(db, "s-cay", "Cay", zips, now) == ids["zip_b.png"]
    assert queue.claim(db, "s-dan", "Dan", zips, now) is None
    assert queue.Filters.parse("evil'; DROP TABLE fields;--", "1 OR 1", "x") == queue.Filters()
    counts = queue.progress(db, zips, "Ann", "", now, "s-ann")
    assert (counts.pending, counts.held_by_others, counts.done, counts.total) == (2, 1, 0, 2)


# -- decisions and exports --------------------------------------------------------------------------------------------


def test_decisions_reach_the_store_and_the_exports_and_survive_a_forced_reread(review_out, db):
    now = utcnow()
    ids = field_ids(db)
    amount, zip_a = ids["amount_a.png"], ids["zip_a.png"]
    queue.claim(db, "s-ann", "Ann", queue.Filters(), now)
    decide(db, amount, "s-ann", "Ann", "correct", parse_keyed("amount", "1,234"), now)
    decide(db, zip_a, "s-ann", "Ann", "unreadable", None, now)
    row = db.execute("SELECT status, value, digits, text, review_state FROM fields WHERE id = ?", (amount,)).fetchone()
    assert tuple(row) == ("corrected", "1234", "1234", "1,234", "done")
    log = db.execute("SELECT * FROM corrections WHERE field_id = ?", (amount,)).fetchone()
    assert (log["reviewer"], log["old_value"], log["new_value"], log["action"]) == ("Ann", "1734", "1234", "correct")
    assert db.execute("SELECT status, review_state FROM fields WHERE id = ?", (zip_a,)).fetchone()[:] == (
        "rejected", "unreadable")

    store = ResultStore(review_out.out / "results.db")
    export_all(store, review_out.out)
    results = {json.loads(line)["document"]: json.loads(line) for line in
               (review_out.out / "results.jsonl").read_text().splitlines()}  # fmt: skip
    field = results["amount_a.png"]["fields"][0]
    assert field["status"] == "corrected" and field["value"] == "1234"
    assert field["review"]["reviewer"] == "Ann" and field["review"]["machine"]["value"] == "1734"
    assert results["zip_a.png"]["fields"][0]["review"]["state"] == "unreadable"
    assert "review" not in results["amount_b.png"]["fields"][0]
    rows = {r["document"]: r for r in csv.DictReader((review_out.out / "results.csv").open())}
    assert (rows["amount_a.png"]["status"], rows["amount_a.png"]["value"]) == ("corrected", "1234")
    assert (rows["amount_a.png"]["reviewer"], rows["amount_a.png"]["machine_value"]) == ("Ann", "1734")
    assert rows["zip_a.png"]["review_state"] == "unreadable"

    # a forced re-read replaces the rows: the decisions are applied again, nothing is lost
    again = [dict(d, fields=[dict(f, status="rejected") for f in d["fields"]]) for d in results.values()]
    store.save_documents(again, 1, force=True)
    new_ids = field_ids(db)
    assert new_ids["amount_a.png"] != amount
    row = db.execute("SELECT status, value, review_state FROM fields WHERE id = ?", (new_ids["amount_a.png"],))
    assert tuple(row.fetchone()) == ("corrected", "1234", "done")
    store.close()

    # undo: Ann's latest decision (unreadable) is reopened and leased back to her; then the correction
    assert reopen_last(db, "s-ann", "Ann", now, 300) == new_ids["zip_a.png"]
    assert queue.claim(db, "s-ann", "Ann", queue.Filters(), now) == new_ids["zip_a.png"]
    assert reopen_last(db, "s-ann", "Ann", now, 300) is None  # the unreadable one was the latest; it is undone


# -- the app over HTTP ------------------------------------------------------------------------------------------------


def make_client(review_out, **settings) -> TestClient:
    app = create_app(ReviewSettings(review_out.out, export_delay=0.05, **settings))
    return TestClient(app, base_url=LOCAL, follow_redirects=False)


def login(client: TestClient, name: str = "Ann", **extra) -> str:
    response = client.post("/login", data={"name": name, "next": "/", **extra}, headers={"Origin": LOCAL})
    assert response.status_code == 303, response.text
    page = client.get("/", headers={"Accept": "text/html"})
    return page.text.split('name="csrf" value="')[1].split('"')[0]


def test_http_review_flow_validates_escapes_and_protects(review_out):
    with make_client(review_out) as client:
        assert client.get("/", headers={"Accept": "text/html"}).headers["location"].startswith("/login")
        assert client.get("/crop/1").status_code == 401
        csrf = login(client)
        page = client.get("/", headers={"Accept": "text/html"})
        assert "amount_a.png" in page.text and 'value="1734"' in page.text
        assert "default-src 'none'" in page.headers["content-security-policy"]
        ids = field_ids(sqlite3.connect(review_out.out / "results.db"))
        amount = ids["amount_a.png"]
        post = {"csrf": csrf, "field_id": str(amount), "action": "save"}

        bad = client.post("/decide", data={**post, "value": "<script>alert(1)</script>"}, headers={"Origin": LOCAL})
        assert bad.status_code == 422 and "Not an amount" in bad.text
        assert "<script>alert(1)</script>" not in bad.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in bad.text

        assert client.post("/decide", data={**post, "value": "1234", "csrf": "forged"},
                           headers={"Origin": LOCAL}).status_code == 403  # fmt: skip
        assert client.post("/decide", data={**post, "value": "1234"},
                           headers={"Origin": "http://evil.example"}).status_code == 403  # fmt: skip
        assert client.get("/", headers={"Host": "evil.example:8000"}).status_code == 400  # DNS rebinding

        done = client.post("/decide", data={**post, "value": "1,234"}, headers={"Origin": LOCAL})
        assert done.status_code == 303 and done.headers["location"] == "/"
        db = sqlite3.connect(review_out.out / "results.db")
        row = db.execute("SELECT status, value FROM fields WHERE id = ?", (amount,)).fetchone()
        assert row == ("corrected", "1234")
        following = client.get("/", headers={"Accept": "text/html"})
        assert "zip_a.png" in following.text and 'id="settled">1</span> of 5 settled' in following.text
        again = client.post("/decide", data={**post, "value": "9"}, headers={"Origin": LOCAL})  # a double submit
        assert again.status_code == 303
        assert "already settled by Ann" in client.get("/", headers={"Accept": "text/html"}).text
        assert db.execute("SELECT value FROM fields WHERE id = ?", (amount,)).fetchone() == ("1234",)

        name_xss = TestClient(client.app, base_url=LOCAL, follow_redirects=False)
        login(name_xss, name='<img src=x onerror=alert(1)>')
        assert "<img src=x" not in name_xss.get("/", headers={"Accept": "text/html"}).text
    # the server stopped: the exports were rewritten with the decision
    result = [json.loads(line) for line in (review_out.out / "results.jsonl").read_text().splitlines()]
    assert any(f["status"] == "corrected" for r in result for f in r["fields"])


def test_images_are_served_by_id_only(review_out):
    with make_client(review_out) as client:
        login(client)
        db = sqlite3.connect(review_out.out / "results.db")
        amount = field_ids(db)["amount_a.png"]
        crop = client.get(f"/crop/{amount}")
        assert crop.status_code == 200 and crop.content.startswith(b"\x89PNG")
        document = db.execute("SELECT document_id FROM fields WHERE id = ?", (amount,)).fetchone()[0]
        page = client.get(f"/page/{document}?field={amount}")
        assert page.status_code == 200 and page.headers["content-type"] == "image/jpeg"
        decoded = cv2.imdecode(__import__("numpy").frombuffer(page.content, "uint8"), cv2.IMREAD_COLOR)
        assert decoded is not None and decoded.shape[0] > 50
        for attempt in ["/crop/..%2F..%2Fresults.db", "/crop/../../results.db", "/crop/1%2F..%2F..%2Fetc%2Fpasswd",
                        "/static/..%2Fapp.py", "/static/%2e%2e/app.py", "/page/..%2Fresults.db",
                        "/crop/-1", "/page/99999"]:  # fmt: skip
            response = client.get(attempt)
            assert response.status_code in (404, 422), attempt
            assert b"SQLite" not in response.content and b"import" not in response.content
        # a crop path in the store that points outside review/ is never followed
        secret = review_out.out.parent / "secret.png"
        secret.write_bytes(b"\x89PNG secret")
        with db:
            db.execute("UPDATE fields SET crop = '../secret.png' WHERE id = ?", (amount,))
        assert client.get(f"/crop/{amount}").status_code == 404
        # a scan that changed since it was read is not shown as that page
        scan = review_out.scans / "amount_a.png"
        scan.write_bytes(scan.read_bytes() + b"\0")
        assert client.get(f"/page/{document}?field={amount}").status_code == 404


def test_a_token_is_required_beyond_loopback_and_then_enforced(review_out):
    with pytest.raises(TokenRequired):
        check_bind("0.0.0.0", None)
    with pytest.raises(TokenRequired, match="at least 16"):
        check_bind("0.0.0.0", "short")
    check_bind("127.0.0.1", None)
    check_bind("::1", None)
    result = CliRunner().invoke(main, ["review", str(review_out.out), "--host", "0.0.0.0"])
    assert result.exit_code != 0 and "--token" in result.output

    base = "http://192.0.2.10:8000"
    app = create_app(ReviewSettings(review_out.out, host="0.0.0.0", token=TOKEN, export_delay=0.05))
    with TestClient(app, base_url=base, follow_redirects=False) as client:
        assert client.get("/", headers={"Accept": "text/html"}).status_code == 303
        assert client.get("/crop/1").status_code == 401
        assert client.get("/crop/1", headers={"Authorization": "Bearer wrong-token-wrong-token"}).status_code == 401
        assert client.get("/crop/1", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
        wrong = client.post("/login", data={"name": "Ann", "token": "nope"}, headers={"Origin": base})
        assert wrong.status_code == 401 and "review_session" not in wrong.headers.get("set-cookie", "")
        given = client.get(f"/login?token={TOKEN}", headers={"Accept": "text/html"})
        assert given.status_code == 200 and 'name="token"' in given.text
        right = client.post("/login", data={"name": "Ann", "token": TOKEN}, headers={"Origin": base})
        assert right.status_code == 303 and "HttpOnly" in right.headers["set-cookie"]
        assert "SameSite=strict" in right.headers["set-cookie"]
        assert client.get("/", headers={"Accept": "text/html"}).status_code == 200


# -- export-corrections -----------------------------------------------------------------------------------------------


def settle_all(review_out, db) -> None:
    """Correct every field to its truth, except amount_b (keyed as 57: segmentation cannot match) and number_a."""
    now = utcnow()
    ids = field_ids(db)
    for name, field, written, _read in FIELDS:
        if name == "number_a.png":
            decide(db, ids[name], "s", "Ann", "unreadable", None, now)
            continue
        typed = "57" if name == "amount_b.png" else written
        decide(db, ids[name], "s", "Ann", "correct", parse_keyed(field, typed), now)


def test_export_corrections_writes_matching_digits_with_labels(review_out, db, tmp_path):
    settle_all(review_out, db)
    to = tmp_path / "corrections"
    summary = export_corrections(review_out.out, to)
    assert (summary.reviewed_fields, summary.exported_fields, summary.mismatched) == (4, 3, 1)
    assert summary.from_scans == 3 and summary.digits == len("1234") + len("90210") + len("12345")
    rows = list(csv.DictReader((to / "labels.csv").open()))
    assert "".join(r["label"] for r in rows if r["document"] == "amount_a.png") == "1234"
    assert "".join(r["machine"] for r in rows if r["document"] == "amount_a.png") == "1734"
    assert summary.corrected_digits == 2  # the 7 read for a 2, the 6 read for a 0
    for row in rows:
        image = cv2.imread(str(to / row["file"]), cv2.IMREAD_GRAYSCALE)
        assert image is not None and image.shape == (28, 28) and image.min() < 100  # raw grey, dark ink
    assert len(list(to.glob("*.png"))) == summary.digits

    # without the scans the review crops are used; a field that is no longer exported loses its stale images
    for path in review_out.scans.iterdir():
        path.rename(path.with_suffix(".moved"))
    db.execute("UPDATE fields SET review_state = 'pending', status = 'rejected' WHERE id = ?",
               (field_ids(db)["zip_a.png"],))  # fmt: skip
    again = export_corrections(review_out.out, to)
    assert again.from_crops == 2 and again.from_scans == 0 and again.digits == 9
    assert len(list(to.glob("*.png"))) == 9


def test_export_corrections_command(review_out, db, tmp_path):
    settle_all(review_out, db)
    result = CliRunner().invoke(main, ["export-corrections", str(review_out.out), "--to", str(tmp_path / "c")])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["exported_fields"] == 3
    missing = CliRunner().invoke(main, ["export-corrections", str(tmp_path), "--to", str(tmp_path / "d")])
    assert missing.exit_code != 0 and "no results.db" in missing.output


def test_review_tables_are_added_to_an_existing_store(review_out):
    path: Path = review_out.out / "results.db"
    with sqlite3.connect(path) as raw:
        raw.execute("DROP TABLE corrections")
    prepare_store(review_out.out)
    names = {r[0] for r in sqlite3.connect(path).execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"corrections", "review_leases", "review_skips", "review_sessions"} <= names


def _read_with_bad_syntax(db, image: str, text: str, value: str | None) -> int:
    """Make the field of ``image`` a rejected reading with bad syntax, as read (``text``) and mended (``value``)."""
    field_id = field_ids(db)[image]
    db.execute("UPDATE fields SET text = ?, value = ?, reason = 'bad_syntax' WHERE id = ?", (text, value, field_id))
    db.commit()
    return field_id


def test_a_zip_read_among_stray_marks_is_offered_as_the_code_its_digits_make(review_out, db):
    """The reader keeps '12345' as the value of '1.2345' (a speck read as a point): the reviewer gets the code to
    confirm, and the page still shows what the machine read."""
    zip_id = _read_with_bad_syntax(db, "zip_b.png", "1.2345", "12345")
    view = load_field(db, review_out.out, zip_id)
    assert (view.guess, view.machine_text) == ("12345", "1.2345")
    amount_id = field_ids(db)["amount_b.png"]  # other fields still offer what was read, as written
    assert load_field(db, review_out.out, amount_id).guess == "507"


def test_an_amount_whose_separators_break_its_grouping_is_offered_as_the_value_they_meant(review_out, db):
    """'4.627.95' (a comma read as a point) keeps the value 4627.95: offered to the reviewer, the reading shown."""
    amount_id = _read_with_bad_syntax(db, "amount_b.png", "4.627.95", "4627.95")
    view = load_field(db, review_out.out, amount_id)
    assert (view.guess, view.machine_text) == ("4627.95", "4.627.95")
    db.execute("UPDATE fields SET value = NULL WHERE id = ?", (amount_id,))  # nothing mended: what was read
    db.commit()
    assert load_field(db, review_out.out, amount_id).guess == "4.627.95"
