"""Where the weights file is and a first check of it, without importing torch.

``pipeline run`` checks the weights before it starts Prefect, but its flow process never runs the network (its
reading processes do), so importing torch there only to look at the file would cost 1.1-1.6 s and ~200 MB of
resident memory for the whole run (``import torch`` alone, measured 3 times). This check catches a missing,
truncated or damaged file; the reading processes load it fully (format, layers) when the flow starts and refuse
anything else.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

SHIPPED_WEIGHTS = Path(__file__).parent / "weights" / "lenet5.pt"


class WeightsError(RuntimeError):
    """The weights file is missing, corrupt or of another format."""


def check_weights_file(path: Path | None = None) -> Path:
    """The weights file's path; raises :class:`WeightsError` when it is missing or its archive is damaged.

    ``torch.save`` writes a zip archive: every member's CRC is checked, which a truncated or altered file fails.
    """
    path = Path(path) if path else SHIPPED_WEIGHTS
    if not path.is_file():
        raise WeightsError(f"weights file {path} not found")
    try:
        with zipfile.ZipFile(path) as archive:
            damaged = archive.testzip()
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise WeightsError(f"weights file {path} is corrupt or unreadable: {exc}") from None
    if damaged is not None:
        raise WeightsError(f"weights file {path} is corrupt: {damaged} fails its checksum")
    if not any(name.endswith("/data.pkl") or name == "data.pkl" for name in names):
        raise WeightsError(f"weights file {path} is not a torch weights file")
    return path
