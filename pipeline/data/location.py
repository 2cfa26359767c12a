"""Where the data directory is: a flag, else $PIPELINE_DATA, else ../shared/data next to the checkout."""

from __future__ import annotations

import os
from pathlib import Path

from pipeline.data.errors import DataError

ENV_VAR = "PIPELINE_DATA"


def default_data_dir() -> Path | None:
    """The data directory from the environment or the checkout's neighbour, or None if there is none."""
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR])
    candidate = Path(__file__).resolve().parents[3] / "shared" / "data"
    return candidate if candidate.is_dir() else None


def resolve_data_dir(path: str | os.PathLike | None) -> Path:
    """Return an existing data directory or raise :class:`DataError` saying how to give one."""
    chosen = Path(path) if path else default_data_dir()
    if chosen is None:
        raise DataError(f"no data directory: pass --data DIR or set ${ENV_VAR}")
    if not chosen.is_dir():
        raise DataError(f"data directory {chosen} does not exist")
    return chosen
