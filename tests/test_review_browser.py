"""The review page in a real browser (Playwright driving Debian's chromium) over pages read by the real pipeline.

Opens the queue, checks validation, corrects a field, marks one unreadable, skips one, undoes and redoes, reloads,
then checks results.db and the re-exported results.jsonl/csv. Writes the screenshot in docs/review-page.png.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import socket
import sqlite3
import threading
import time
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("PIPELINE_CHROMIUM", "/usr/bin/chromium"))
if not CHROMIUM.exists():
    pytest.skip(f"no chromium at {CHROMIUM} (apt-get install chromium; .ci/run installs it)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed (pip install -e '.[dev]')")

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
SCREENSHOT = ROOT / "docs" / "review-page.png"
FILES = ["cheques/cheque_0001.tif", "cheques/cheque_0002.jpg", "cheques/cheque_0006.png",
         "envelopes/envelope_0005.png", "envelopes/envelope_0009.jpg", "envelopes/envelope_0011.tif"]  # fmt: skip
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip


@pytest.fixture(scope="module")
def sample_out(tmp_path_factory) -> Path:
    """A few sample scans read by the real reader (no Prefect needed below the flow), stored and exported."""
    from pipeline.flows.discover import discover
    from pipeline.flows.exports import export_all
    from pipeline.flows.process import ReadSettings, process_files
    from pipeline.flows.store import ResultStore

    root = tmp_path_factory.mktemp("browser")
    scans, out = root / "scans", root / "out"
    for name in FILES:
        (scans / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(SAMPLES / name, scans / name)
        old = time.time() - 60
        os.utime(scans / name, (old, old))
    found = discover([scans])
    documents = process_files(found.files, ReadSettings(device="cpu"), out)
    store = ResultStore(out / "results.db")
    batch = store.start_batch([str(scans)], "auto", "0" * 64, 0.9, 0.001)
    store.save_documents(documents, batch)
    store.finish_batch(batch)
    export_all(store, out)
    store.close()
    rejected = sum(f["status"] == "rejected" for d in documents for f in d["fields"])
    assert rejected >= 3, "the browser test needs at least three rejected fields among the samples"
    return out


@pytest.fixture(scope="module")
def server(sample_out):
    import uvicorn

    from pipeline.review.app import ReviewSettings, create_app

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = create_app(ReviewSettings(sample_out, export_delay=0.2))
    instance = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not instance.started and time.time() < deadline:
        time.sleep(0.05)
    assert instance.started, "the review server did not start"
    yield f"http://127.0.0.1:{port}"
    instance.should_exit = True
    thread.join(timeout=30)


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


def truth() -> dict[tuple[str, int], str]:
    rows = [json.loads(line) for line in (SAMPLES / "truth.jsonl").read_text().splitlines()]
    return {(r["document"], r["page"]): f["value"] for r in rows for f in r["fields"] if f["name"] in ("amount", "zip")}


def until(page, expression: str, seconds: float = 15) -> None:
    """Poll a JavaScript expression (the page's CSP forbids the eval that wait_for_function uses)."""
    deadline = time.time() + seconds
    while not page.evaluate(expression):
        assert time.time() < deadline, f"timed out waiting for {expression}"
        time.sleep(0.05)


def current_field(page) -> int:
    return int(page.get_attribute("#review", "data-field"))


def document_of(db: sqlite3.Connection, field_id: int) -> tuple[str, int, str]:
    return db.execute("SELECT d.document, d.page, f.name FROM fields f JOIN documents d ON d.id = f.document_id"
                      " WHERE f.id = ?", (field_id,)).fetchone()  # fmt: skip


def test_review_in_a_real_browser(sample_out, server, browser):
    db = sqlite3.connect(sample_out / "results.db")
    values = truth()
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    errors: list[str] = []  # script errors, CSP violations, failed loads (the refused entry's 422 aside)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" and "status of 422" not in m.text else None)

    page.goto(server + "/")
    assert "/login" in page.url
    page.fill("#name", "Ann Example")
    page.press("#name", "Enter")
    page.wait_for_selector("#value")
    first = current_field(page)
    oldest = db.execute("SELECT MIN(id) FROM fields WHERE review_state = 'pending'").fetchone()[0]
    assert first == oldest  # the queue starts with the oldest field
    assert page.evaluate("document.activeElement.id") == "value"  # the box has the focus, the guess selected
    guess = db.execute("SELECT text FROM fields WHERE id = ?", (first,)).fetchone()[0]
    assert page.input_value("#value") == guess
    assert page.evaluate("window.getSelection().toString() || document.activeElement.selectionEnd") != 0
    total = db.execute("SELECT COUNT(*) FROM fields WHERE review_state != 'none'").fetchone()[0]
    assert page.inner_text("#left") == str(total)

    # the whole page on demand, with the field outlined; then the screenshot for the docs
    page.keyboard.press("F2")
    until(page, "document.getElementById('page').complete && document.getElementById('page').naturalWidth > 0")
    assert page.is_visible("#page-view")
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    page.keyboard.press("F2")
    assert not page.is_visible("#page-view")

    # a bad entry is refused with a message, the field stays
    document, page_index, name = document_of(db, first)
    page.fill("#value", "12a" if name == "amount" else "1234")
    page.keyboard.press("Enter")
    page.wait_for_selector("#message.error")
    assert ("Not an amount" if name == "amount" else "5 or 9 digits") in page.inner_text("#message")
    assert current_field(page) == first

    # correct it: typing replaces the guess, Enter saves, the next field loads
    page.fill("#value", values[(document, page_index)])
    page.keyboard.press("Enter")
    page.wait_for_selector(f"#review:not([data-field='{first}'])")
    second = current_field(page)

    # Ctrl+U: unreadable
    page.keyboard.press("Control+u")
    page.wait_for_selector(f"#review:not([data-field='{second}'])")
    third = current_field(page)
    assert third not in (first, second)

    # Ctrl+B: back to the last decision (reopened), then unreadable again
    page.keyboard.press("Control+b")
    page.wait_for_selector(f"#review[data-field='{second}']")
    assert "reopened" in page.inner_text(".flash")
    page.keyboard.press("Control+u")
    page.wait_for_selector(f"#review:not([data-field='{second}'])")

    # Esc: skip; the skipped field comes back only when nothing else is left
    shown = current_field(page)
    page.keyboard.press("Escape")
    page.wait_for_selector(f"#review:not([data-field='{shown}'])")
    held = current_field(page)

    # reload: the same field (still leased to this reviewer) and the counts kept
    page.reload()
    page.wait_for_selector("#value")
    assert current_field(page) == held
    assert page.inner_text("#settled") == "2"
    assert page.inner_text("#mine") == "2"

    # the store says so...
    corrected = db.execute("SELECT status, value, review_state FROM fields WHERE id = ?", (first,)).fetchone()
    expected = values[(document, page_index)]
    assert corrected == ("corrected", expected, "done")
    assert db.execute("SELECT review_state, status FROM fields WHERE id = ?", (second,)).fetchone() == (
        "unreadable", "rejected")
    who = {r[0] for r in db.execute("SELECT reviewer FROM corrections")}
    assert who == {"Ann Example"}

    # ...and so do the exports, rewritten in the background
    deadline = time.time() + 15
    while time.time() < deadline:
        results = [json.loads(line) for line in (sample_out / "results.jsonl").read_text().splitlines()]
        fields = {(r["document"], r["page"]): f for r in results for f in r["fields"]}
        if fields[(document, page_index)]["status"] == "corrected" and "review" in fields[document_of(db, second)[:2]]:
            break
        time.sleep(0.2)
    field = fields[(document, page_index)]
    assert field["status"] == "corrected" and field["value"] == expected
    assert field["review"]["reviewer"] == "Ann Example" and field["review"]["machine"]["text"] == guess
    assert fields[document_of(db, second)[:2]]["review"]["state"] == "unreadable"
    rows = {(r["document"], r["page"]): r for r in csv.DictReader((sample_out / "results.csv").open())}
    assert rows[(document, str(page_index))]["status"] == "corrected"
    assert rows[(document, str(page_index))]["value"] == expected
    assert errors == []
    page.close()
