"""Batch reader for handwritten cheque amounts and ZIP codes, built around LeNet-5."""

__version__ = "0.1.0"
