"""The store, the exports and file discovery: everything below the Prefect flow, no server needed."""

import json
import os
import sqlite3
import time

import cv2
import numpy as np
import pytest

from pipeline.flows.discover import discover
from pipeline.flows.exports import append_jsonl, export_all
from pipeline.flows.store import ResultStore


def doc(sha: str, page: int = 0, status: str = "ok", field_status: str = "accepted") -> dict:
    fields = []
    if status == "ok":
        fields = [
            {
                "name": "zip", "status": field_status, "value": "12345", "digits": "12345", "text": "12345",
                "confidence": 0.99, "reason": None if field_status == "accepted" else "low_confidence",
                "bbox": [1, 2, 30, 40], "crop": None,
                "characters": [{"char": "1", "bbox": [1, 2, 5, 40], "confidence": 0.99,
                                "alternatives": [{"char": "7", "probability": 0.01}]}],
            }
        ]  # fmt: skip
    return {
        "document": f"{sha}.png", "sha256": sha * 8, "page": page, "kind": "zip", "status": status,
        "error": None if status == "ok" else "file is empty (0 bytes)", "fields": fields,
    }  # fmt: skip


def test_store_is_idempotent_and_force_replaces(tmp_path):
    store = ResultStore(tmp_path / "results.db")
    batch = store.start_batch(["in"], "zip", "abc", 0.9, 0.001)
    store.save_documents([doc("aaaaaaaa"), doc("bbbbbbbb", status="error")], batch)
    store.save_documents([doc("aaaaaaaa")], batch)  # a re-run: no duplicate
    assert store.count_documents() == 2
    store.save_documents([doc("aaaaaaaa", field_status="rejected")], batch, force=True)
    docs = list(store.iter_documents())
    assert len(docs) == 2
    replaced = next(d for d in docs if d["sha256"] == "aaaaaaaa" * 8)
    assert replaced["fields"][0]["status"] == "rejected"
    assert replaced["fields"][0]["characters"][0]["alternatives"] == [{"char": "7", "probability": 0.01}]
    pending = store.db.execute("SELECT COUNT(*) FROM fields WHERE review_state = 'pending'").fetchone()[0]
    assert pending == 1
    store.close()


def test_a_failed_batch_writes_nothing(tmp_path):
    store = ResultStore(tmp_path / "results.db")
    batch = store.start_batch(["in"], "zip", "abc", 0.9, 0.001)
    broken = doc("cccccccc")
    broken["fields"][0]["name"] = "not-a-field"  # violates the schema's CHECK: the whole batch rolls back
    with pytest.raises(sqlite3.IntegrityError):
        store.save_documents([doc("dddddddd"), broken], batch)
    assert store.count_documents() == 0
    store.close()


def test_exports_rewrite_and_repair_a_cut_line(tmp_path):
    store = ResultStore(tmp_path / "results.db")
    batch = store.start_batch(["in"], "zip", "abc", 0.9, 0.001)
    documents = [doc("aaaaaaaa"), doc("bbbbbbbb", status="error")]
    store.save_documents(documents, batch)
    append_jsonl(tmp_path / "results.jsonl", documents)
    with open(tmp_path / "results.jsonl", "a") as handle:
        handle.write('{"document": "half a li')  # as a kill in the middle of a write leaves it
    assert export_all(store, tmp_path) == 2
    lines = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert sorted(d["document"] for d in lines) == ["aaaaaaaa.png", "bbbbbbbb.png"]
    csv_lines = (tmp_path / "results.csv").read_text().splitlines()
    assert csv_lines[0].startswith("document,page,sha256") and len(csv_lines) == 3
    assert not list(tmp_path.glob("*.tmp"))
    store.close()


def test_discover_recurses_sniffs_and_defers_unsettled(tmp_path, mnist_subset):
    images, _ = mnist_subset
    (tmp_path / "a" / "b").mkdir(parents=True)
    cv2.imwrite(str(tmp_path / "a" / "one.png"), 255 - images[0])
    cv2.imwrite(str(tmp_path / "a" / "b" / "two.png"), 255 - images[1])
    cv2.imwrite(str(tmp_path / "a" / "b" / "no-extension.png"), 255 - images[2])
    os.rename(tmp_path / "a" / "b" / "no-extension.png", tmp_path / "a" / "b" / "scan.dat")  # sniffed as PNG
    (tmp_path / "a" / "notes.txt").write_text("not a scan")
    (tmp_path / "a" / ".hidden.png").write_bytes(b"x")
    cv2.imwrite(str(tmp_path / "a" / "copy.png"), 255 - images[0])
    old = time.time() - 60
    for path in (tmp_path / "a").rglob("*"):
        os.utime(path, (old, old))
    cv2.imwrite(str(tmp_path / "a" / "fresh.png"), 255 - images[3])  # just written: left for later
    found = discover([tmp_path / "a"])
    names = [f.document for f in found.files]
    assert names == ["b/scan.dat", "b/two.png", "copy.png", "one.png"]
    assert found.unsettled == ["fresh.png"]
    by_name = {f.document: f.sha256 for f in found.files}
    assert by_name["copy.png"] == by_name["one.png"]
    assert found.files[0].size > 0 and len(by_name["one.png"]) == 64
    assert np.unique([f.sha256 for f in found.files]).size == 3


def test_documents_are_read_in_chunks_with_the_same_result(tmp_path):
    """The exports stream the store chunk by chunk (memory flat as the store grows), in the same order."""
    store = ResultStore(tmp_path / "results.db")
    batch = store.start_batch(["in"], "zip", "abc", 0.9, 0.001)
    names = [f"{i:08x}" for i in range(23)]
    store.save_documents([doc(n, status="error" if i % 5 == 0 else "ok") for i, n in enumerate(names)], batch)
    whole = list(store.iter_documents(chunk=1000))
    assert [d["document"] for d in whole] == sorted(f"{n}.png" for n in names)
    assert list(store.iter_documents(chunk=4)) == whole
    assert not store.db.in_transaction
    partly = store.iter_documents(chunk=4)
    next(partly)
    partly.close()  # an export given up half-way ends its read transaction
    assert not store.db.in_transaction
    store.close()


def test_batches_are_submitted_within_a_window_and_all_come_back():
    """The flow keeps at most `window` batches unfinished, so finished results are not held to the end."""
    import threading
    import uuid
    from concurrent.futures import ThreadPoolExecutor

    from prefect.futures import PrefectConcurrentFuture

    from pipeline.flows.read_scans import completed_in_window

    lock = threading.Lock()
    outstanding = peak = 0

    def work(batch):
        nonlocal outstanding
        time.sleep(0.01 * (batch[0] % 3))
        with lock:
            outstanding -= 1
        return batch

    with ThreadPoolExecutor(2) as pool:

        def submit(batch):
            nonlocal outstanding, peak
            with lock:
                outstanding += 1
                peak = max(peak, outstanding)
            return PrefectConcurrentFuture(uuid.uuid4(), pool.submit(work, batch))

        batches = [[i] for i in range(20)]
        seen = [batch[0] for batch, _ in completed_in_window(submit, batches, 3)]
    assert sorted(seen) == list(range(20))
    assert peak <= 3


def test_the_classifier_does_not_grow_with_each_new_batch_shape():
    """Each batch has its own number of digits; when the network saw each count as a shape of its own, oneDNN's
    default cache (1,024 primitives, a set per shape) made the flow grow by hundreds of MB over 10,000 documents.
    The classifier now pads every chunk to one shape and the flow's modules cap the cache; checked in a fresh
    process (the setting is read when torch first uses oneDNN). Measured before the padding: +24 MB capped,
    +92 MB with the default cache."""
    script = """
import numpy as np, psutil
import pipeline.flows.process
from pipeline.recognize.classifier import DigitClassifier
me = psutil.Process()
classifier = DigitClassifier(device="cpu")
x = np.random.default_rng(0).random((600, 32, 32), dtype=np.float32)
classifier.classify_normalized(x[:1])
before = me.memory_info().rss
for n in range(300, 600, 3):
    classifier.classify_normalized(x[:n])
print((me.memory_info().rss - before) // 2**20)
"""
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "ONEDNN_PRIMITIVE_CACHE_CAPACITY"}
    finished = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert finished.returncode == 0, finished.stderr[-2000:]
    grown_mb = int(finished.stdout.split()[-1])
    assert grown_mb < 50
