"""Named layout templates, for operators who know their cheque stock and want its amount box taken as printed.

Generic detection stays the default; a template is only used when named, and only when its printed anchors are
found on the page, so a wrong template falls back to generic detection instead of cutting the wrong place.
A template is a small JSON document; boxes are fractions of the (deskewed) page width and height::

    {
      "name": "syndicate-ctc-2010",
      "aspect": 2.17,                      # page width / height, matched within 6%
      "anchors": [                         # printed rules that must be there (a box edge, a line)
        {"kind": "rule", "box": [0.70, 0.33, 0.98, 0.38]}
      ],
      "fields": {"amount": [0.72, 0.34, 0.97, 0.49]}
    }
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.segment.locate_cheque import Located, _ink_box, _writing, finish, horizontal_rules
from pipeline.segment.pageview import BoxXYXY, PageView

RelBox = tuple[float, float, float, float]


class TemplateError(ValueError):
    """A template file that cannot be used (bad JSON, missing keys, boxes outside 0..1)."""


@dataclass(frozen=True)
class Anchor:
    kind: str  # only "rule" for now: a printed horizontal rule crossing most of the box's width
    box: RelBox


@dataclass(frozen=True)
class Template:
    name: str
    aspect: float
    fields: dict[str, RelBox]
    anchors: tuple[Anchor, ...] = field(default_factory=tuple)


def _rel_box(value, where: str) -> RelBox:
    if not (isinstance(value, list | tuple) and len(value) == 4 and all(isinstance(v, int | float) for v in value)):
        raise TemplateError(f"{where}: expected [x0, y0, x1, y1] fractions")
    x0, y0, x1, y1 = (float(v) for v in value)
    if not (0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1):
        raise TemplateError(f"{where}: box {value} is not inside the page as fractions 0..1")
    return x0, y0, x1, y1


def parse_template(data: dict) -> Template:
    """A template from its JSON object, checked."""
    try:
        name = str(data["name"])
        aspect = float(data["aspect"])
        fields = {str(k): _rel_box(v, f"field {k}") for k, v in dict(data["fields"]).items()}
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, TemplateError):
            raise
        raise TemplateError(f"template needs name, aspect and fields ({exc})") from None
    anchors = []
    for k, a in enumerate(data.get("anchors", [])):
        if a.get("kind") != "rule":
            raise TemplateError(f"anchor {k}: only kind 'rule' is supported")
        anchors.append(Anchor("rule", _rel_box(a.get("box"), f"anchor {k}")))
    return Template(name, aspect, fields, tuple(anchors))


def load_templates(path: Path) -> dict[str, Template]:
    """Templates from a JSON file holding one template or a list of them, by name."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise TemplateError(f"{path}: cannot read templates ({exc})") from None
    items = data if isinstance(data, list) else [data]
    templates = [parse_template(d) for d in items]
    return {t.name: t for t in templates}


def _abs(view: PageView, box: RelBox) -> BoxXYXY:
    h, w = view.shape
    return round(box[0] * w), round(box[1] * h), round(box[2] * w), round(box[3] * h)


def matches(view: PageView, template: Template) -> bool:
    """The page has the template's shape and all of its anchors."""
    h, w = view.shape
    if abs(w / max(h, 1) / template.aspect - 1) > 0.06:
        return False
    if not template.anchors:
        return True
    rules, _ = horizontal_rules(view, view.inch(0.3))
    for anchor in template.anchors:
        x0, y0, x1, y1 = _abs(view, anchor.box)
        covered = sum(max(0, min(r.x1, x1) - max(r.x0, x0)) for r in rules if y0 <= r.y < y1)
        if covered < 0.6 * (x1 - x0):
            return False
    return True


def locate_with_template(view: PageView, template: Template, name: str = "amount") -> Located | None:
    """The field as the template places it, or None when the template does not match this page."""
    if name not in template.fields or not matches(view, template):
        return None
    zone = _abs(view, template.fields[name])
    _rules, rmask = horizontal_rules(view, view.inch(0.4))
    ink_box = _ink_box(_writing(view.ink, rmask), zone, (0, 0, 0, 0))
    if ink_box is None:
        return Located(name, "amount", None, view.to_page(zone), None, 0.0, f"template:{template.name}",
                       "the template's field is empty")  # fmt: skip
    return finish(view, name, "amount", ink_box, zone, 5.0, f"template:{template.name}")
