"""Scans in, fields and digit images out."""

from pipeline.segment.normalize import NormalizationConfig, normalize_batch, normalize_digit

__all__ = ["NormalizationConfig", "normalize_batch", "normalize_digit"]
