import gzip
import hashlib
import http.server
import io
import threading
from functools import partial

import numpy as np
import pytest

from pipeline.data import DataError, resolve_data_dir
from pipeline.data.mnist import download_mnist, load_mnist, read_idx
from pipeline.data.orand import load_orand_digits
from pipeline.data.usps import load_usps, read_usps_text
from tests.conftest import write_idx


def test_mnist_gz_and_raw(fake_data_dir):
    images, labels = load_mnist(fake_data_dir / "mnist", "train")  # .gz
    assert images.shape == (600, 28, 28) and images.dtype == np.uint8 and labels.shape == (600,)
    images, labels = load_mnist(fake_data_dir / "mnist", "test")  # uncompressed
    assert images.shape == (200, 28, 28)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "too short"),
        ((9999).to_bytes(4, "big") + b"\0" * 20, "magic"),
        (
            (2051).to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in (2, 28, 28)) + b"\0" * 100,
            "data bytes",
        ),
    ],
)
def test_malformed_idx(tmp_path, content, message):
    path = tmp_path / "bad-idx3-ubyte"
    path.write_bytes(content)
    with pytest.raises(DataError, match=message):
        read_idx(path, 2051)


def test_truncated_gzip_and_missing_file(tmp_path, mnist_subset):
    images, _ = mnist_subset
    good = tmp_path / "good.gz"
    write_idx(good, images[:10], 2051)
    bad = tmp_path / "bad.gz"
    bad.write_bytes(good.read_bytes()[:-40])
    with pytest.raises(DataError, match="cannot read"):
        read_idx(bad, 2051)
    with pytest.raises(DataError, match="missing t10k-images"):
        load_mnist(tmp_path, "test")


def test_label_count_mismatch(tmp_path, mnist_subset):
    images, labels = mnist_subset
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", images[:10], 2051)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", labels[:9], 2049)
    with pytest.raises(DataError, match="do not match"):
        load_mnist(tmp_path, "test")


def test_usps_good_file(fake_data_dir):
    images, _labels = load_usps(fake_data_dir / "usps", "train")
    assert images.shape == (100, 16, 16) and images.dtype == np.uint8
    assert images.min() == 0 and images.max() > 200  # -1 background -> 0, ink bright
    assert load_usps(fake_data_dir / "usps", "test")[0].shape == (60, 16, 16)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("3 " + " ".join(["0"] * 255), "expected 257"),
        ("x " + " ".join(["0"] * 256), "non-numeric"),
        ("12 " + " ".join(["0"] * 256), "not a digit"),
        ("3 " + " ".join(["7"] * 256), "outside"),
    ],
)
def test_usps_malformed(tmp_path, line, message):
    path = tmp_path / "zip.train"
    path.write_text(line + "\n")
    with pytest.raises(DataError, match=message):
        read_usps_text(path)


def test_usps_empty_and_missing(tmp_path):
    (tmp_path / "zip.test").write_text("\n")
    with pytest.raises(DataError, match="no digits"):
        load_usps(tmp_path, "test")
    with pytest.raises(DataError, match=r"missing zip\.train"):
        load_usps(tmp_path, "train")


def test_orand_digits_and_bad_csv(fake_data_dir, tmp_path):
    crops, labels, sources = load_orand_digits(fake_data_dir / "orand-car-a-dev", "val")
    assert len(crops) == len(labels) == len(sources) > 0
    assert crops[0].shape == (28, 28)
    (tmp_path / "labels.csv").write_text("image,digits\n")
    with pytest.raises(DataError, match="missing columns"):
        load_orand_digits(tmp_path, "train")


def test_orand_jittered_boxes_cut_other_crops_of_the_chosen_images(fake_data_dir):
    folder = fake_data_dir / "orand-car-a-dev"
    crops, labels, sources = load_orand_digits(folder, "train")
    chosen = {sources[0]}
    again, again_labels, again_sources = load_orand_digits(folder, "train", chosen, 0.3, np.random.default_rng(1))
    assert set(again_sources) == chosen
    assert list(again_labels) == [d for d, s in zip(labels, sources, strict=True) if s in chosen]
    tight = [c for c, s in zip(crops, sources, strict=True) if s in chosen]
    assert any(a.shape != t.shape for a, t in zip(again, tight, strict=True))  # the boxes moved
    for a, t in zip(again, tight, strict=True):  # at least half of the box is kept on each axis
        assert a.shape[0] >= (t.shape[0] + 1) // 2 - 1 and a.shape[1] >= (t.shape[1] + 1) // 2 - 1
    same = load_orand_digits(folder, "train", chosen, 0.3, np.random.default_rng(1))[0]
    assert all(np.array_equal(a, b) for a, b in zip(again, same, strict=True))  # seeded


def test_resolve_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("PIPELINE_DATA", str(tmp_path))
    assert resolve_data_dir(None) == tmp_path
    with pytest.raises(DataError, match="does not exist"):
        resolve_data_dir(tmp_path / "nope")


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def test_download_from_local_server_with_checksums(tmp_path, mnist_subset):
    """A real HTTP download (loopback server), first mirror dead, md5 checked, nothing partial left behind."""
    images, labels = mnist_subset
    served = tmp_path / "served"
    served.mkdir()
    names = {
        "train-images-idx3-ubyte.gz": images[:20],
        "train-labels-idx1-ubyte.gz": labels[:20],
        "t10k-images-idx3-ubyte.gz": images[20:30],
        "t10k-labels-idx1-ubyte.gz": labels[20:30],
    }
    for name, array in names.items():
        write_idx(served / name, array, 2051 if "images" in name else 2049)
    sums = {name: hashlib.md5((served / name).read_bytes()).hexdigest() for name in names}
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(served)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}/"
        target = tmp_path / "mnist"
        written = download_mnist(target, mirrors=(base + "missing/", base), checksums=sums)
        assert len(written) == 4
        assert load_mnist(target, "train")[0].shape == (20, 28, 28)
        assert not list(target.glob("*.part"))
        assert download_mnist(target, mirrors=(base,), checksums=sums) == []  # already there: nothing fetched
        bad_sums = {**sums, "t10k-labels-idx1-ubyte.gz": "0" * 32}
        (target / "t10k-labels-idx1-ubyte.gz").unlink()
        with pytest.raises(DataError, match="checksum mismatch"):
            download_mnist(target, mirrors=(base,), checksums=bad_sums)
        assert not (target / "t10k-labels-idx1-ubyte.gz").exists()
    finally:
        server.shutdown()


def test_download_with_fake_opener(tmp_path):
    payload = gzip.compress(b"not really mnist")

    def opener(url, timeout):
        return io.BytesIO(payload)

    written = download_mnist(tmp_path, mirrors=("fake://",), urlopen=opener, checksums=None)
    assert len(written) == 4 and (tmp_path / "train-images-idx3-ubyte.gz").read_bytes() == payload
