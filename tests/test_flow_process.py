"""process_files: each page is let go once located, yet review crops are the same pixels as cut from the page."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from pipeline.flows.discover import ScanFile
from pipeline.flows.process import ReadSettings, process_files
from pipeline.hashing import file_sha256
from pipeline.segment.document import PageInput, locate
from tests.documents_helper import make


def _scan_file(path: Path) -> ScanFile:
    return ScanFile(path, path.name, path.stat().st_size, file_sha256(path))


def test_review_crops_are_cut_as_from_the_whole_page(tmp_path):
    images = {
        "cheque.png": make("cheque", 3).image,
        "envelope.png": make("envelope", 5).image,
        "blank.png": np.full((550, 1200), 235, np.uint8),  # a cheque with no field: its review crop is the page
    }
    for name, image in images.items():
        cv2.imwrite(str(tmp_path / name), image)
    files = [_scan_file(tmp_path / name) for name in images]
    out = tmp_path / "out"
    documents = process_files(files, ReadSettings(kind="cheque", device="cpu"), out)
    assert [d["document"] for d in documents] == list(images)
    crops = 0
    for doc in documents:
        page = images[doc["document"]]
        for field in doc["fields"]:
            if field["status"] != "rejected":
                continue
            crops += 1
            if field["bbox"] is None:
                expected = page
            else:
                x0, y0, x1, y1 = field["bbox"]
                expected = page[max(0, y0 - 8) : y1 + 8, max(0, x0 - 8) : x1 + 8]
            written = cv2.imread(str(out / field["crop"]), cv2.IMREAD_UNCHANGED)
            assert written.shape == expected.shape and np.array_equal(written, expected), doc["document"]
    assert crops >= 2  # the blank page's field at least, and one read field (the envelope read as a cheque)


def test_the_kept_region_holds_every_place_a_field_may_be_read_at():
    doc = make("envelope", 5)
    page = locate(PageInput(doc.image, doc.dpi, "envelope"))
    assert page.review_box is not None
    x0, y0, x1, y1 = page.review_box
    h, w = doc.image.shape
    assert (x1 - x0) * (y1 - y0) < 0.5 * w * h  # far less than the page
    for places in page.fields:
        for place in places:
            for box in (place.crop_box, place.bbox):
                assert x0 <= box[0] and y0 <= box[1] and box[2] <= x1 and box[3] <= y1
    blank = locate(PageInput(np.full((550, 1200), 235, np.uint8), 200, "cheque"))
    assert blank.review_box is None and blank.result.fields[0].reason == "not_found"
