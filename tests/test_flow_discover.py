"""Discovery a chunk at a time and the planner that turns chunks into batches: no Prefect, no server."""

import logging
import os
import time
from pathlib import Path

import pytest

from pipeline.flows import discover as discover_module
from pipeline.flows.discover import Discovery, ScanFile, count_candidates, discover, discover_chunks
from pipeline.flows.read_scans import BatchPlanner, RunSummary, completed_in_window
from pipeline.flows.store import ResultStore

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32  # sniffs as PNG; its content is all discovery looks at


def make_tree(root: Path, names: list[str]) -> None:
    old = time.time() - 60
    for k, name in enumerate(names):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(PNG + name.encode() + bytes([k % 7]))
        os.utime(path, (old, old))


def test_chunks_hold_what_one_pass_holds_in_the_order_of_the_names(tmp_path):
    names = ["a-b.png", "a/b.png", "a/c/d.png", "a0.png", "b.png", "z/y/x.png", "z/y.png", "m.tif", "n.dat",
             "a b/x.png", "a.d/x.png", "a!/x.png", "a.png", "a!.png"]  # fmt: skip
    make_tree(tmp_path / "in", names)
    (tmp_path / "in" / "notes.txt").write_text("no scan")
    whole = discover([tmp_path / "in"])
    # sorted as strings: "a-b.png" < "a/b.png" ('-' < '/'), a folder's files where their names sort
    assert [f.document for f in whole.files] == sorted(names)
    chunks = list(discover_chunks([tmp_path / "in"], chunk=2))
    assert [len(c.files) for c in chunks] == [2, 2, 2, 2, 2, 2, 2]
    assert [f for c in chunks for f in c.files] == whole.files
    assert count_candidates([tmp_path / "in"]) == len(names)


def test_nested_or_repeated_inputs_are_walked_once(tmp_path):
    make_tree(tmp_path / "in", ["top.png", "sub/inner.png", "sub/.hidden/secret.png"])
    root, sub = tmp_path / "in", tmp_path / "in" / "sub"
    assert [f.document for f in discover([root, sub, root]).files] == ["sub/inner.png", "top.png"]
    # the inner folder first: its files keep the names it gave them, and the outer walk skips it
    assert [f.document for f in discover([sub, root]).files] == ["inner.png", "top.png"]
    # a hidden folder named on its own is read, though the walk of its parent skips it
    assert [f.document for f in discover([root, sub / ".hidden"]).files] == ["sub/inner.png", "top.png", "secret.png"]
    # the output folder is never read, wherever it lies, unless a folder inside it is given
    assert [f.document for f in discover([root], exclude=sub).files] == ["top.png"]
    assert [f.document for f in discover([root, sub], exclude=sub).files] == ["top.png", "inner.png"]
    # a file given by name that a folder given also finds is found once, under the folder's name for it
    assert [f.document for f in discover([sub / "inner.png", root, sub / "inner.png"]).files] == [
        "sub/inner.png", "top.png"
    ]
    assert [f.document for f in discover([sub / "inner.png", sub / "inner.png"]).files] == ["inner.png"]


def test_a_folder_that_cannot_be_listed_is_named_and_the_rest_is_found(tmp_path, monkeypatch):
    make_tree(tmp_path / "in", ["a.png", "locked/b.png", "z.png"])
    real_scandir = os.scandir

    def scandir(path):
        if str(path).endswith("locked"):
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    monkeypatch.setattr(discover_module.os, "scandir", scandir)
    found = discover([tmp_path / "in"])
    assert [f.document for f in found.files] == ["a.png", "z.png"]
    assert found.unlisted == [("locked/", "cannot list folder (Permission denied)")] and found.unreadable == []


def test_files_are_hashed_only_as_chunks_are_asked_for(tmp_path, monkeypatch):
    """Reading can start after the first chunk: nothing past it is hashed until the flow asks for more."""
    make_tree(tmp_path / "in", [f"{i:03d}.png" for i in range(10)])
    hashed: list[str] = []
    real_hash = discover_module.file_sha256
    monkeypatch.setattr(discover_module, "file_sha256", lambda path: hashed.append(path.name) or real_hash(path))
    chunks = discover_chunks([tmp_path / "in"], chunk=3)
    first = next(chunks)
    assert len(first.files) == 3 and hashed == ["000.png", "001.png", "002.png"]
    assert sum(len(c.files) for c in chunks) == 7 and len(hashed) == 10


def scan(name: str, sha: str) -> ScanFile:
    return ScanFile(Path(name), name, 10, sha * 64)


def stored_doc(file: ScanFile) -> dict:
    return {"document": file.document, "sha256": file.sha256, "page": 0, "kind": "zip", "status": "error",
            "error": "file is empty (0 bytes)", "fields": []}  # fmt: skip


@pytest.fixture
def store(tmp_path):
    opened = ResultStore(tmp_path / "results.db")
    yield opened
    opened.close()


def test_the_planner_reads_each_content_once_and_skips_what_an_earlier_run_stored(store):
    earlier = store.start_batch(["in"], "zip", "w", 0.9, 0.001)
    store.save_documents([stored_doc(scan("old.png", "a"))], earlier)
    run = store.start_batch(["in"], "zip", "w", 0.9, 0.001)
    summary = RunSummary()
    advanced: list[int] = []
    planner = BatchPlanner(store, run, False, summary, logging.getLogger("test"), advance=advanced.append)
    chunks = [
        Discovery([scan("old.png", "a"), scan("b.png", "b"), scan("b-copy.png", "b"), scan("c.png", "c")],
                  unsettled=["wet.png"]),
        Discovery([scan("d.png", "d"), scan("c-copy.png", "c"), scan("e.png", "e")],
                  unlisted=[("locked/", "cannot list folder (Permission denied)")]),
        Discovery([scan("b-again.png", "b"), scan("f.png", "f")]),
    ]  # fmt: skip
    batches = planner.batches(iter(chunks), batch_size=2)
    first = next(batches)
    assert [f.document for f in first] == ["b.png", "c.png"]
    store.save_documents([stored_doc(f) for f in first], run)  # stored by this run: later sightings are copies
    planner.saved(first)
    rest = list(batches)
    assert [[f.document for f in b] for b in rest] == [["d.png", "e.png"], ["f.png"]]
    # skipped: old.png; copies: b-copy (b in flight), c-copy and b-again (stored by this run)
    assert (summary.skipped, summary.copies) == (1, 3)
    assert summary.unsettled == ["wet.png"]
    assert summary.unreadable == ["locked/: cannot list folder (Permission denied)"]
    # files only: the folder that could not be listed is not one
    assert planner.found == 10 and planner.read == 5 and sum(advanced) == planner.found - planner.read
    sightings = store.db.execute("SELECT COUNT(*) FROM sightings").fetchone()[0]
    assert sightings == 9  # every name of every hashed file


def test_a_copy_in_a_later_chunk_is_not_read_while_the_first_is_in_flight(store):
    run = store.start_batch(["in"], "zip", "w", 0.9, 0.001)
    summary = RunSummary()
    planner = BatchPlanner(store, run, False, summary, logging.getLogger("test"))
    chunks = [Discovery([scan("a.png", "a")]), Discovery([scan("a-copy.png", "a"), scan("b.png", "b")])]
    assert [[f.document for f in b] for b in planner.batches(iter(chunks), batch_size=8)] == [["a.png", "b.png"]]
    assert summary.copies == 1


def test_force_reads_again_what_earlier_runs_stored_but_still_not_a_copy(store):
    earlier = store.start_batch(["in"], "zip", "w", 0.9, 0.001)
    store.save_documents([stored_doc(scan("old.png", "a"))], earlier)
    run = store.start_batch(["in"], "zip", "w", 0.9, 0.001)
    summary = RunSummary()
    planner = BatchPlanner(store, run, True, summary, logging.getLogger("test"))
    chunks = [
        Discovery([scan("old.png", "a"), scan("old-copy.png", "a"), scan("new.png", "n")]),
        Discovery([scan("old-again.png", "a")]),
    ]
    batches = planner.batches(iter(chunks), batch_size=2)
    first = next(batches)
    assert [f.document for f in first] == ["old.png", "new.png"]
    store.save_documents([stored_doc(f) for f in first], run, force=True)  # now stored by this run
    planner.saved(first)
    assert list(batches) == [] and (summary.skipped, summary.copies) == (0, 2)


def test_batches_are_planned_only_as_the_window_frees_a_slot():
    """With the planner's batches fed to the window, the flow hashes ahead only as far as it submits."""
    import uuid
    from concurrent.futures import Future

    from prefect.futures import PrefectConcurrentFuture

    pulled: list[int] = []

    def batches():
        for k in range(6):
            pulled.append(k)
            yield [k]

    def submit(batch):
        done: Future = Future()
        done.set_result(batch)
        return PrefectConcurrentFuture(uuid.uuid4(), done)

    window = completed_in_window(submit, batches(), 2)
    next(window)
    assert pulled == [0, 1, 2]  # two submitted, the third submitted as the first came back
    assert len(list(window)) == 5 and pulled == list(range(6))
