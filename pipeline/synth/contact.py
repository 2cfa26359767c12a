"""A contact sheet of generated documents: the quickest way for a person to judge whether they look like scans,
and (with boxes) whether the truth sits on the ink."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageOps

from pipeline.synth.printing import font


def _page(path: Path, page: int) -> Image.Image:
    im = Image.open(path)
    im.seek(page)
    return im.convert("RGB")


def contact_sheet(folder: Path, out: Path, columns: int = 4, thumb_width: int = 480, boxes: bool = False,
                  limit: int | None = None) -> Path:  # fmt: skip
    """Tile the documents of ``folder/truth.jsonl`` (every page) into one PNG, captioned with file and value."""
    records = [json.loads(line) for line in (folder / "truth.jsonl").read_text().splitlines() if line.strip()]
    records = records[:limit] if limit else records
    thumbs = []
    caption_font = font("sans", 13)
    for rec in records:
        im = _page(folder / rec["document"], rec["page"])
        if boxes:
            draw = ImageDraw.Draw(im)
            width = max(2, im.width // 500)
            for f in rec["fields"]:
                draw.rectangle(f["bbox"], outline=(230, 30, 30), width=width)
                for c in f["characters"]:
                    draw.rectangle(c["bbox"], outline=(30, 140, 230), width=max(1, width // 2))
        scale = thumb_width / im.width
        im = im.resize((thumb_width, max(1, round(im.height * scale))), Image.Resampling.LANCZOS)
        main = next((f for f in rec["fields"] if f["name"] in ("amount", "zip")), None)
        label = f"{rec['document']}" + (f" p{rec['page']}" if rec["style"].get("pages_in_file", 1) > 1 else "")
        label += f"  {main['name']}={main['value']}" if main else ""
        canvas = Image.new("RGB", (thumb_width, im.height + 20), (255, 255, 255))
        canvas.paste(im, (0, 0))
        ImageDraw.Draw(canvas).text((4, im.height + 3), label, font=caption_font, fill=(0, 0, 0))
        thumbs.append(ImageOps.expand(canvas, border=6, fill=(255, 255, 255)))
    rows = [thumbs[i : i + columns] for i in range(0, len(thumbs), columns)]
    cell_w = thumb_width + 12
    heights = [max(t.height for t in row) for row in rows]
    sheet = Image.new("RGB", (cell_w * columns, int(np.sum(heights))), (225, 225, 225))
    y = 0
    for row, h in zip(rows, heights, strict=True):
        for k, t in enumerate(row):
            sheet.paste(t, (k * cell_w, y))
        y += h
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out, optimize=True)
    return out
