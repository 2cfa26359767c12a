"""Loaders for the digit data sets the recognizer is trained and evaluated on."""

from pipeline.data.errors import DataError
from pipeline.data.location import resolve_data_dir

__all__ = ["DataError", "resolve_data_dir"]
