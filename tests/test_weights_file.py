"""The torch-free first check of the weights file that `pipeline run` makes before Prefect starts."""

import struct
import subprocess
import sys
import zipfile

import pytest

from pipeline.recognize.weights_file import SHIPPED_WEIGHTS, WeightsError, check_weights_file


def test_the_shipped_weights_pass():
    assert check_weights_file() == SHIPPED_WEIGHTS
    assert check_weights_file(SHIPPED_WEIGHTS) == SHIPPED_WEIGHTS


def test_missing_truncated_altered_and_foreign_files_are_refused(tmp_path):
    with pytest.raises(WeightsError, match="not found"):
        check_weights_file(tmp_path / "missing.pt")
    data = SHIPPED_WEIGHTS.read_bytes()
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(WeightsError, match="corrupt"):
        check_weights_file(truncated)
    altered = tmp_path / "altered.pt"  # one byte of a stored member changed: its CRC no longer matches
    with zipfile.ZipFile(SHIPPED_WEIGHTS) as archive:
        member = max(archive.infolist(), key=lambda info: info.file_size)
    raw = bytearray(data)
    name_length, extra_length = struct.unpack("<HH", data[member.header_offset + 26 : member.header_offset + 30])
    offset = member.header_offset + 30 + name_length + extra_length + 10  # inside the member's stored bytes
    raw[offset] ^= 0xFF
    altered.write_bytes(bytes(raw))
    with pytest.raises(WeightsError, match="corrupt"):
        check_weights_file(altered)
    text = tmp_path / "notes.pt"
    text.write_text("not weights")
    with pytest.raises(WeightsError, match="corrupt or unreadable"):
        check_weights_file(text)
    other = tmp_path / "other.zip"
    with zipfile.ZipFile(other, "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(WeightsError, match="not a torch weights file"):
        check_weights_file(other)


def test_the_command_line_and_the_flow_do_not_import_torch():
    code = "import sys, pipeline.cli, pipeline.flows.commands, pipeline.flows.read_scans; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_run_refuses_damaged_weights_before_starting_prefect(tmp_path):
    damaged = tmp_path / "damaged.pt"
    damaged.write_bytes(SHIPPED_WEIGHTS.read_bytes()[:5000])
    scans = tmp_path / "scans"
    scans.mkdir()
    command = [sys.executable, "-m", "pipeline.cli", "run", str(scans), "--out", str(tmp_path / "out"),
               "--weights", str(damaged)]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "is corrupt" in result.stderr and "starting Prefect" not in result.stderr
