"""What a renderer hands on: the page pixels plus the truth of every handwritten field on it."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pipeline.synth.amounts import FieldText
from pipeline.synth.handwriting import Glyph, WriterStyle, Written, ink_box
from pipeline.synth.printing import union_box


@dataclass
class Rendered:
    """A rendered document before scanning: RGB pixels, its fields' truth in page pixels, and its style."""

    kind: str
    image: np.ndarray
    dpi: int
    fields: list[dict]
    style: dict = field(default_factory=dict)
    printed: dict = field(default_factory=dict)
    field_mask: np.ndarray | None = None  # ink alpha of the truth fields, only when asked for (tests)


def field_truth(name: str, ftext: FieldText, chars: list[dict], writer: WriterStyle, written: Written | None,
                **style) -> dict:  # fmt: skip
    """The truth record of one handwritten field (boxes ``[x0, y0, x1, y1)`` in page pixels).

    The field box holds all of the field's ink (a cents underline too); character boxes hold one character each.
    """
    characters = []
    for c in chars:
        entry = {"char": c["char"], "bbox": [int(v) for v in c["bbox"]]}
        if c.get("source"):
            entry["source"] = c["source"]
        if c.get("raised"):
            entry["raised"] = True  # small raised cents
        characters.append(entry)
    field_style = {**ftext.style, **style, "writer": writer.as_dict()}
    if written is not None:
        field_style.update({k: v for k, v in written.notes.items() if v})
    return {
        "name": name,
        "value": ftext.value,
        "digits": ftext.digits,
        "text": ftext.text,
        "bbox": union_box([c["bbox"] for c in characters] + ([written.ink_bbox()] if written is not None else [])),
        "characters": characters,
        "style": field_style,
    }


def single(glyph: Glyph) -> Written:
    """One glyph as a one-character field, so digits written in boxes share the field-writing path."""
    box = ink_box(glyph.alpha)
    chars = [{"char": glyph.char, "bbox": list(box), "source": glyph.source}]
    return Written(glyph.alpha, chars, glyph.baseline)
