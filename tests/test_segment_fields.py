"""Reading whole field crops built from real MNIST digits: touching, broken, underlined, boxed, raised cents,
separators, skew, bitonal scans, empty fields. Bounds are loose on purpose: the shipped weights may change."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from pipeline.data.bundled import MNIST_TEST_SUBSET
from pipeline.data.mnist import load_mnist
from pipeline.segment.field import FieldCrop, FieldReader, FieldResult, ReaderConfig, with_decimal_point
from pipeline.segment.oversegment import GENEROUS_CUTS
from pipeline.segment.search import Path, Step

PAPER = 225
INK = 40
SCALE = 2  # MNIST digits are 20 px tall; fields are scanned at about 40 px per digit


@pytest.fixture(scope="module")
def reader() -> FieldReader:
    from pipeline.recognize.classifier import DigitClassifier

    return FieldReader(DigitClassifier(device="cpu"))


@pytest.fixture(scope="module")
def digits(reader: FieldReader) -> dict[int, list[np.ndarray]]:
    """Dark-ink crops of MNIST digits the network reads with confidence on their own, by class (the three most
    confident right readings of each class, so the tests do not hang on one set of weights)."""
    images, labels = load_mnist(MNIST_TEST_SUBSET, "test")
    preds = reader.classifier.classify(list(images[:400]), polarity="light")
    out: dict[int, list[np.ndarray]] = {d: [] for d in range(10)}
    right = [i for i in range(400) if preds.labels[i] == labels[i] and preds.probabilities[i, labels[i]] > 0.9]
    for i in sorted(right, key=lambda i: -preds.probabilities[i, labels[i]]):
        if len(out[int(labels[i])]) < 3:
            big = cv2.resize(images[i], None, fx=SCALE, fy=SCALE, interpolation=cv2.INTER_CUBIC)
            ys, xs = np.nonzero(big > 60)
            out[int(labels[i])].append(big[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1])
    assert all(out.values())
    return out


class Canvas:
    """A field crop drawn left to right: digits on a common baseline, separators, lines."""

    def __init__(self, height: int = 90, width: int = 600) -> None:
        self.ink = np.zeros((height, width), np.float32)  # 0..1 ink
        self.x = 12
        self.baseline = height - 22

    def digit(self, image: np.ndarray, gap: int = 8, raise_by: int = 0, scale: float = 1.0) -> tuple[int, int]:
        img = image.astype(np.float32) / 255
        if scale != 1.0:
            img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        h, w = img.shape
        y = self.baseline - h - raise_by
        x = self.x + gap
        region = self.ink[y : y + h, x : x + w]
        np.maximum(region, img[: region.shape[0], : region.shape[1]], out=region)
        self.x = x + w
        return x, w

    def dot(self, gap: int = 6, size: int = 6) -> None:
        x = self.x + gap
        cv2.circle(self.ink, (x + size // 2, self.baseline - size // 2), size // 2, 1.0, -1)
        self.x = x + size

    def comma(self, gap: int = 6) -> None:
        x = self.x + gap
        cv2.line(self.ink, (x + 4, self.baseline - 6), (x, self.baseline + 6), 1.0, 5)
        self.x = x + 6

    def dash(self, gap: int = 8, length: int = 24, y: int | None = None) -> None:
        x = self.x + gap
        yy = self.baseline - 18 if y is None else y
        cv2.line(self.ink, (x, yy), (x + length, yy), 1.0, 4)
        self.x = x + length

    def equals(self, gap: int = 8, length: int = 24) -> None:
        x = self.x + gap
        for yy in (self.baseline - 24, self.baseline - 12):
            cv2.line(self.ink, (x, yy), (x + length, yy), 1.0, 4)
        self.x = x + length

    def slash(self, gap: int = 8) -> None:
        x = self.x + gap
        cv2.line(self.ink, (x, self.baseline), (x + 22, self.baseline - 40), 1.0, 4)
        self.x = x + 22

    def underline(self) -> None:
        cv2.line(self.ink, (6, self.baseline + 4), (self.x + 10, self.baseline + 5), 1.0, 3)

    def box(self) -> None:
        h, w = self.ink.shape
        cv2.rectangle(self.ink, (2, 3), (min(w - 3, self.x + 14), h - 4), 1.0, 2)

    def image(self, background: bool = False, seed: int = 0) -> np.ndarray:
        ink = self.ink[:, : min(self.ink.shape[1], self.x + 20)]
        grey = PAPER - (PAPER - INK) * ink
        if background:
            # a security pattern: fine light waves, plus a little noise
            rng = np.random.default_rng(seed)
            yy, xx = np.mgrid[0 : ink.shape[0], 0 : ink.shape[1]]
            waves = 18 * (np.sin(xx / 3.0 + 4 * np.sin(yy / 9.0)) > 0.6)
            grey = np.minimum(grey, PAPER - waves) + rng.normal(0, 3, grey.shape)
        return np.clip(grey, 0, 255).astype(np.uint8)


def read(reader: FieldReader, image: np.ndarray, kind: str = "amount") -> FieldResult:
    return reader.read(image, kind)  # type: ignore[arg-type]


def write(canvas: Canvas, digits: dict[int, list[np.ndarray]], text: str, gap: int = 8, k: int = 0) -> None:
    for ch in text:
        if ch.isdigit():
            canvas.digit(digits[int(ch)][k % len(digits[int(ch)])], gap)
        elif ch == ".":
            canvas.dot()
        elif ch == ",":
            canvas.comma()
        elif ch == "-":
            canvas.dash()
        elif ch == "=":
            canvas.equals()
        elif ch == "/":
            canvas.slash()


def test_clean_amount_with_separators(reader: FieldReader, digits) -> None:
    canvas = Canvas()
    write(canvas, digits, "22.970.-")
    result = read(reader, canvas.image())
    assert result.digits == "22970"
    assert result.value == "22970"
    assert "." in result.text
    assert result.status == "accepted", (result.reason, result.detail)
    assert [c.char for c in result.characters if c.char.isdigit()] == list("22970")
    for c in result.characters:
        _x, _y, w, h = c.bbox
        assert w > 0 and h > 0 and 0 <= c.confidence <= 1


def test_decimal_comma_and_thousands(reader: FieldReader, digits) -> None:
    canvas = Canvas(width=700)
    write(canvas, digits, "1,234.56")
    result = read(reader, canvas.image())
    assert result.digits == "123456"
    assert result.value == "1234.56"


def test_indian_grouping_with_slash_ending(reader: FieldReader, digits) -> None:
    canvas = Canvas(width=700)
    write(canvas, digits, "7,67,000/-")
    result = read(reader, canvas.image())
    assert result.digits == "767000"
    assert result.value == "767000"


def test_equals_ending_and_security_background(reader: FieldReader, digits) -> None:
    canvas = Canvas()
    write(canvas, digits, "280.000=")
    result = read(reader, canvas.image(background=True))
    assert result.digits == "280000"
    assert result.value == "280000"


def test_touching_digits_are_split(reader: FieldReader, digits) -> None:
    canvas = Canvas()
    write(canvas, digits, "3", gap=8)
    for d in "05":
        canvas.digit(digits[int(d)][0], gap=-4)  # overlap into the previous digit: the strokes touch
    write(canvas, digits, "8", gap=10)
    image = canvas.image()
    count, _ = cv2.connectedComponents((image < 128).astype(np.uint8))
    assert count - 1 < 4  # the digits really touch
    result = read(reader, image)
    assert result.digits == "3058"


def test_broken_digit_is_merged(reader: FieldReader, digits) -> None:
    canvas = Canvas()
    x, w = canvas.digit(digits[4][0], gap=10)
    canvas.ink[:, x : x + w][canvas.baseline - 10 : canvas.baseline - 7, :] = 0  # a gap across the 4's stem
    write(canvas, digits, "17", gap=12)
    image = canvas.image()
    count, _ = cv2.connectedComponents((image < 128).astype(np.uint8))
    assert count - 1 == 4  # the '4' really is in two pieces
    result = read(reader, image)
    assert result.digits == "417"


def test_underline_and_box_lines_are_removed(reader: FieldReader, digits) -> None:
    canvas = Canvas()
    write(canvas, digits, "5,370")
    canvas.underline()
    result = read(reader, canvas.image())
    assert result.digits == "5370"
    boxed = Canvas()
    write(boxed, digits, "1,250")
    boxed.box()
    result = read(reader, boxed.image())
    assert result.digits == "1250"


def test_raised_cents(reader: FieldReader, digits) -> None:
    """Small cents written above the baseline, by three different hands: most must be read as cents."""
    right = 0
    for k in range(3):
        canvas = Canvas(height=100)
        write(canvas, digits, "57")
        canvas.digit(digits[5][k % len(digits[5])], gap=6, raise_by=22, scale=0.6)
        canvas.digit(digits[0][k % len(digits[0])], gap=3, raise_by=22, scale=0.6)
        result = read(reader, canvas.image())
        right += result.digits == "5750" and result.value == "57.50"
    assert right >= 2


def test_skewed_field(reader: FieldReader, digits) -> None:
    canvas = Canvas(height=110)
    write(canvas, digits, "4.096")
    image = canvas.image()
    h, w = image.shape
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), 4.0, 1.0)
    rotated = cv2.warpAffine(image, matrix, (w, h), borderValue=PAPER)
    result = read(reader, rotated)
    assert result.digits == "4096"


def test_bitonal_input(reader: FieldReader, digits) -> None:
    canvas = Canvas()
    write(canvas, digits, "12.345")
    bitonal = np.where(canvas.image() < 128, 0, 255).astype(np.uint8)
    assert read(reader, bitonal).digits == "12345"
    assert read(reader, bitonal < 128).digits == "12345"  # a boolean ink mask (True = ink) works too


def test_empty_field_is_not_found(reader: FieldReader) -> None:
    blank = np.full((80, 300), PAPER, np.uint8)
    result = read(reader, blank)
    assert result.status == "rejected"
    assert result.reason == "not_found"
    assert result.digits == ""
    specks = blank.copy()
    specks[40, 100] = specks[20, 200] = 30
    assert read(reader, specks).reason == "not_found"


def test_zip_field(reader: FieldReader, digits) -> None:
    canvas = Canvas(width=700)
    write(canvas, digits, "02134", gap=14)
    result = read(reader, canvas.image(), "zip")
    assert result.value == "02134"
    canvas = Canvas(width=900)
    write(canvas, digits, "12345-6789", gap=14)
    result = read(reader, canvas.image(), "zip")
    assert result.value == "12345-6789"
    short = Canvas()
    write(short, digits, "1234", gap=14)
    result = read(reader, short.image(), "zip")
    assert result.status == "rejected"
    assert result.reason == "bad_syntax"
    assert result.digits == "1234"  # the best guess is kept


def test_batch_reads_in_one_network_call(reader: FieldReader, digits, monkeypatch) -> None:
    calls = []
    original = reader.classifier.classify_normalized

    def counting(array):
        calls.append(len(array))
        return original(array)

    monkeypatch.setattr(reader.classifier, "classify_normalized", counting)
    crops = []
    for text in ("12", "345", "6.789"):
        canvas = Canvas()
        write(canvas, digits, text)
        crops.append(FieldCrop(canvas.image(), "amount", name=f"f{text}", bbox=(100, 50, 0, 0)))
    results = reader.read_many(crops)
    assert len(calls) == 1
    assert [r.digits for r in results] == ["12", "345", "6789"]
    assert [r.name for r in results] == ["f12", "f345", "f6.789"]
    assert all(c.bbox[0] >= 100 and c.bbox[1] >= 50 for r in results for c in r.characters)
    assert results[0].to_dict()["characters"][0]["char"] == "1"
    text = json.dumps([r.to_dict() for r in results])  # plain types only: a flow can store results as JSON
    assert '"status"' in text


def test_unknown_kind_is_refused(reader: FieldReader) -> None:
    with pytest.raises(ValueError):
        reader.read(np.full((40, 40), 255, np.uint8), "date")  # type: ignore[arg-type]


def test_number_field_and_odd_crops(reader: FieldReader, digits) -> None:
    canvas = Canvas(width=700)
    write(canvas, digits, "40817", gap=12)
    result = read(reader, canvas.image(), "number")
    assert result.digits == "40817"
    assert result.value == "40817"
    for odd in (np.zeros((60, 200), np.uint8), np.full((1, 1), 255, np.uint8), np.full((60, 200), 0.9, np.float32)):
        result = read(reader, odd)
        assert result.status == "rejected"
        assert result.reason is not None


def test_zip_in_printed_boxes(reader: FieldReader, digits) -> None:
    canvas = Canvas(height=110, width=500)
    for k, ch in enumerate("60614"):
        x0 = 10 + 70 * k
        cv2.rectangle(canvas.ink, (x0, 12), (x0 + 62, 96), 0.8, 2)
        canvas.x = x0 + 8
        canvas.baseline = 86
        canvas.digit(digits[int(ch)][0], gap=4)
    canvas.x = 10 + 70 * 5
    result = read(reader, canvas.image(), "zip")
    assert result.digits == "60614"
    assert result.value == "60614"


def _dollar(canvas: Canvas, gap: int = 10, height: int = 44) -> None:
    """A handwritten '$': an S struck through by one bar that sticks out above and below it."""
    x = canvas.x + gap
    base = canvas.baseline
    s_curve = [(0.5, 0.8), (0.3, 0.93), (0.08, 0.8), (0.12, 0.6), (0.3, 0.5), (0.47, 0.36), (0.44, 0.13),
               (0.24, 0.04), (0.04, 0.16)]  # fmt: skip
    pts = np.array([(x + u * height, base - v * height) for u, v in s_curve], np.int32)
    cv2.polylines(canvas.ink, [pts], False, 1.0, 4, cv2.LINE_AA)
    cv2.line(canvas.ink, (int(x + 0.28 * height), int(base + 0.12 * height)),
             (int(x + 0.27 * height), int(base - 1.08 * height)), 1.0, 4, cv2.LINE_AA)  # fmt: skip
    canvas.x = int(x + 0.56 * height)


def test_dollar_and_star_before_the_digits_are_signs(reader: FieldReader, digits) -> None:
    """A '$' and a raised '*' written before the amount are signs, not a '5' or a '4' in front of it."""
    right = 0
    for k in range(3):
        canvas = Canvas()
        _dollar(canvas)
        write(canvas, digits, "307.-", k=k)
        right += read(reader, canvas.image()).digits == "307"
    assert right >= 2
    right = 0
    for k in range(3):
        canvas = Canvas()
        x, y = canvas.x + 10, canvas.baseline - 44
        for dx0, dy0, dx1, dy1 in ((10, 0, 10, 22), (0, 5, 20, 17), (0, 17, 20, 5)):
            cv2.line(canvas.ink, (x + dx0, y + dy0), (x + dx1, y + dy1), 1.0, 4)
        canvas.x = x + 20
        write(canvas, digits, "307.-", k=k)
        right += read(reader, canvas.image()).digits == "307"
    assert right >= 2


def test_comma_written_as_a_dot_is_settled_by_the_syntax(reader: FieldReader, digits) -> None:
    """'1.250.50': two like marks cannot both be the decimal point; one of them is read as the other mark (which
    one, the writing cannot say: '1,250.50' and '1.250,50' are both 1250.50)."""
    canvas = Canvas()
    write(canvas, digits, "1.250.50")
    result = read(reader, canvas.image())
    assert result.value == "1250.50"
    assert result.text in ("1,250.50", "1.250,50")


def test_underlined_raised_cents(reader: FieldReader, digits) -> None:
    """Raised cents with a bar drawn under them, touching both: the bar is cut away and the cents read."""
    right = 0
    for k in range(3):
        canvas = Canvas(height=100)
        write(canvas, digits, "57", k=k)
        x0, _ = canvas.digit(digits[5][k % len(digits[5])], gap=6, raise_by=22, scale=0.6)
        canvas.digit(digits[0][k % len(digits[0])], gap=3, raise_by=22, scale=0.6)
        y = canvas.baseline - 22 + 1
        cv2.line(canvas.ink, (x0 - 2, y), (canvas.x + 2, y), 1.0, 3)
        result = read(reader, canvas.image())
        right += result.digits == "5750"
    assert right >= 2


def test_zip_read_against_a_list_of_valid_codes(reader: FieldReader, digits) -> None:
    """With a list of valid codes, a code that is not on it is rejected and the likeliest listed code kept."""
    from pipeline.segment.field import ReaderConfig
    from pipeline.segment.zipcode import ZipBook

    canvas = Canvas(width=700)
    write(canvas, digits, "02134", gap=14)
    listed = FieldReader(reader.classifier, ReaderConfig(zip_book=ZipBook(["02134", "02135"])))
    assert listed.read(canvas.image(), "zip").value == "02134"
    unlisted = FieldReader(reader.classifier, ReaderConfig(zip_book=ZipBook(["02184", "99999"])))
    result = unlisted.read(canvas.image(), "zip")
    assert result.status == "rejected" and result.reason == "low_confidence"
    assert result.value == "02184" and "not a ZIP code" in result.detail
    eight = next(c for c in result.characters if c.char == "8")
    assert eight.confidence < 0.5  # the network's belief in the digit the list imposed, not in the 3 it read


def test_slash_xx_ending(reader: FieldReader, digits) -> None:
    """'35/xx' (no cents): the small x's after the slash are letters, not two more digits."""
    right = 0
    for k in range(3):
        canvas = Canvas()
        write(canvas, digits, "35/", k=k)
        for _ in range(2):
            x, base = canvas.x + 8, canvas.baseline
            cv2.line(canvas.ink, (x, base - 24), (x + 20, base), 1.0, 4)
            cv2.line(canvas.ink, (x, base), (x + 20, base - 24), 1.0, 4)
            canvas.x = x + 20
        result = read(reader, canvas.image())
        right += result.digits == "35" and result.text == "35/xx"
    assert right >= 2


def test_nine_digits_without_the_dash_are_not_accepted(reader: FieldReader, digits) -> None:
    canvas = Canvas(width=900)
    write(canvas, digits, "123456789", gap=14)
    result = read(reader, canvas.image(), "zip")
    assert result.status == "rejected"
    assert ("segmentation_ambiguous", "nine digits with no ZIP+4 dash") in result.problems


def test_a_zip_has_no_signs(reader: FieldReader, digits) -> None:
    """The amount's signs are not offered in a ZIP: none of the k best ZIP readings holds a '$', '*' or 'x'."""
    from pipeline.segment.field import prepare
    from pipeline.segment.search import best_paths, candidate_segments, render

    canvas = Canvas(width=700)
    _dollar(canvas)
    write(canvas, digits, "3072", gap=14)
    image = canvas.image()
    assert read(reader, image).text.startswith("$")
    atoms, scale, grey = prepare(image)
    config = reader.config.search
    segments = candidate_segments(atoms, scale, config)
    probs = reader.classifier.classify_normalized(
        reader.classifier.normalize([render(s, grey) for s in segments], polarity="dark")
    ).probabilities
    chars = {st.char for p in best_paths(atoms, segments, probs, scale, config, signs=False) for st in p.steps}
    assert not chars & set("$*x")
    chars = {st.char for p in best_paths(atoms, segments, probs, scale, config) for st in p.steps}
    assert "$" in chars  # the same field read as an amount offers the sign
    assert not set("$*x") & set(read(reader, image, "zip").text)


def _path(cost: float, chars: str) -> Path:
    """A hand-made reading: digits as digit steps, '~' as noise, any other mark as a symbol step."""
    steps = tuple(
        Step(i, "digit" if c.isdigit() else "symbol", "" if c == "~" else c, 0.0) for i, c in enumerate(chars)
    )
    return Path(cost, steps)


def test_a_reading_with_the_decimal_point_wins_when_it_costs_little_more() -> None:
    """'661330' (the point glued onto the 3 or called noise) loses to '6613.30' when that costs at most the margin
    more and has the same digits; a point already read, other digits, a dearer reading or a mark elsewhere change
    nothing."""
    chosen = _path(5.0, "661~330")
    with_point = _path(5.6, "6613.30")
    other_digits = _path(5.2, "6618.30")
    too_dear = _path(6.5, "6613,30")
    ending = _path(5.9, "6613.30/-")  # an ending after the cents does not hide the point
    paths = [chosen, other_digits, with_point, ending, too_dear]
    assert with_decimal_point(paths, chosen, 1.0) == [with_point, ending]
    assert with_decimal_point(paths, chosen, 0.5) == []
    assert with_decimal_point(paths, with_point, 1.0) == []  # the chosen reading has its point already
    assert with_decimal_point([chosen, _path(5.1, "661.330")], chosen, 1.0) == []  # a thousands mark: no cents
    comma = _path(5.0, "1,250")  # a separator the reading did read is not overruled
    assert with_decimal_point([comma, _path(5.2, "1~2.50")], comma, 1.0) == []


def test_the_reading_with_the_decimal_point_is_chosen_only_when_it_parses_and_changes_the_value() -> None:
    """In the reader's syntax ranking: '6613.30' replaces '661330' and comes first among the valid values; a
    candidate with bad syntax, one that gives the same value, or one beyond the syntax margin changes nothing;
    ZIP codes are left alone."""
    from types import SimpleNamespace

    from pipeline.segment.amount import Token

    reader = FieldReader.__new__(FieldReader)
    reader.config = ReaderConfig()
    reader._characters = lambda steps, item, probs: (None, [Token(s.char) for s in steps if s.char], None)

    def rank(kind: str, *paths: Path) -> tuple[str, list[str]]:
        best, valid = reader._syntax_first(list(paths), SimpleNamespace(crop=SimpleNamespace(kind=kind)), None)
        return "".join(s.char or "~" for s in best.steps), [value for value, _cost in valid]

    assert rank("amount", _path(5.0, "661~330"), _path(5.6, "6613.30")) == ("6613.30", ["6613.30", "661330"])
    assert rank("amount", _path(5.0, "661~330"), _path(5.6, "66,13.30")) == ("661~330", ["661330"])  # bad syntax
    assert rank("amount", _path(1.0, "6.6.1.3.3.0"), _path(5.0, "661330"), _path(5.9, "6613.30"))[0] == "661330"
    assert rank("zip", _path(5.0, "66133"), _path(5.6, "661.33"))[0] == "66133"


def test_two_small_high_last_digits_are_raised_cents_unless_an_ending_follows() -> None:
    """'12⁵⁰' has raised cents; in '1250/-' or '1250/xx' the ending says there are no cents, so the same two
    small high digits are read level (ORAND-CAR-A train: '100^00-' was read for 10000)."""
    from types import SimpleNamespace

    from pipeline.segment.components import Scale
    from pipeline.segment.search import Segment

    def seg(i: int, y: int, h: int) -> Segment:
        return Segment(i, i + 1, 30 * i, y, 20, h, np.ones((h, 20), bool))

    segments = [seg(0, 0, 40), seg(1, 0, 40), seg(2, 2, 20), seg(3, 2, 20), seg(4, 5, 35), seg(5, 20, 4)]
    item = SimpleNamespace(segments=segments, scale=Scale(40.0, 0.0, 40.0, 3.0, 20.0))
    digits = [Step(i, "digit", c, 0.0) for i, c in enumerate("1250")]
    reader = FieldReader.__new__(FieldReader)
    reader.config = ReaderConfig()
    assert reader._raised_cents(digits, item) == {2, 3}
    ending = [Step(4, "symbol", "/", 0.0), Step(5, "symbol", "-", 0.0)]
    assert reader._raised_cents(digits + ending, item) == set()
    letters = [Step(4, "symbol", "/", 0.0), Step(5, "symbol", "x", 0.0)]
    assert reader._raised_cents(digits + letters, item) == set()
    assert reader._raised_cents([*digits, Step(5, "symbol", "", 0.0)], item) == {2, 3}  # noise is no ending


def test_zip_cut_with_the_state_letter_in_reads_the_zip(reader: FieldReader, digits) -> None:
    """A located ZIP crop that took in the state's last letter ('NY 02134'): the letter, apart from the digits, is
    left unread, and the field's characters (and so its box) are the ZIP's alone."""
    canvas = Canvas(width=700)
    y = canvas.baseline
    cv2.line(canvas.ink, (14, y - 44), (26, y - 24), 1.0, 4)  # a 'Y': two arms and a stem
    cv2.line(canvas.ink, (38, y - 44), (26, y - 24), 1.0, 4)
    cv2.line(canvas.ink, (26, y - 24), (26, y), 1.0, 4)
    canvas.x = 40 + 24  # a blank as wide as a digit before the ZIP
    write(canvas, digits, "02134", gap=8)
    image = canvas.image()
    located, image_only = reader.read_many([FieldCrop(image, "zip", located=True), FieldCrop(image, "zip")])
    assert located.digits == "02134"
    assert min(c.bbox[0] for c in located.characters) > 40
    # a ZIP field image holds no letters, so nothing is left unread there: the 'Y' is taken for a digit
    assert len(image_only.digits) == 6 and image_only.digits.endswith("02134")


def test_letter_steps_only_lead_and_only_before_a_blank() -> None:
    """The search's leading letters: offered for ink apart from what follows, never after a digit, never for the
    last piece, and not at all unless asked for."""
    from pipeline.segment.components import Piece, Scale
    from pipeline.segment.search import LETTER_COST, SearchConfig, best_paths, candidate_segments

    def bar(x: int) -> Piece:
        return Piece(x, 10, 4, 20, np.ones((20, 4), bool))

    atoms = [bar(0), bar(24), bar(30), bar(36)]  # a 'letter', 20 px of blank, then three strokes 2 px apart
    scale = Scale(digit_height=20.0, top=10.0, baseline=30.0, stroke=4.0)
    config = SearchConfig(k_best=50)
    segments = candidate_segments(atoms, scale, config)
    probs = np.full((len(segments), 10), 0.001, np.float32)
    probs[:, 1] = 0.991

    def letters(path: Path) -> list[int]:
        return [k for k, st in enumerate(path.steps) if st.kind == "symbol" and st.cost == LETTER_COST]

    with_letters = best_paths(atoms, segments, probs, scale, config, signs=False, leading_letters=True)
    lettered = [p for p in with_letters if letters(p)]
    assert any(p.digits == "111" for p in lettered)  # the first bar left unread, the three strokes read
    for path in lettered:
        first_digit = next((k for k, st in enumerate(path.steps) if st.kind == "digit"), len(path.steps))
        assert all(k < first_digit for k in letters(path))  # letters only before the first digit
        assert all(segments[path.steps[k].segment].stop == 1 for k in letters(path))  # only the bar with a blank
    plain = best_paths(atoms, segments, probs, scale, config, signs=False)
    assert not any(letters(p) for p in plain)


def test_zip_of_four_digits_gets_a_second_finer_look(reader: FieldReader, digits) -> None:
    """A '1' touching the digit before it makes a piece barely wider than one digit, which the first look does not
    cut: the ZIP reads four digits. Those ZIPs alone are cut again more finely, which finds the '1' more often."""
    first_five = second_five = 0
    for k in range(3):
        for gap in (-2, -4, -6):  # the '1' overlaps into the '3'
            canvas = Canvas()
            write(canvas, digits, "2943", k=k)
            canvas.digit(digits[1][k], gap=gap)
            image = canvas.image()
            count, _ = cv2.connectedComponents((image < 128).astype(np.uint8))
            assert count - 1 == 4  # the '1' really touches
            first = reader._read([reader._prepare(FieldCrop(image, "zip"))])[0]
            result = reader.read(image, "zip")
            first_five += first.digits == "29431"
            second_five += result.digits == "29431"
            assert result.digits in ("2943", "29431")  # a second look never makes things worse
    assert second_five > first_five


def test_only_zips_one_digit_short_get_a_second_look(reader: FieldReader, digits, monkeypatch) -> None:
    """Four or eight digits: a digit lost to touching, looked at again. Other counts (a cut that missed the ZIP, a
    field of a few marks) almost never come right on a second look, which costs more than the first."""
    looks: list[int] = []
    read = reader._read
    monkeypatch.setattr(reader, "_read", lambda prepared: looks.append(len(prepared)) or read(prepared))
    for text, expected in (("294", 1), ("2943", 2), ("29431", 1), ("294312", 1)):
        canvas = Canvas()
        write(canvas, digits, text, k=0)
        looks.clear()
        result = reader.read(canvas.image(), "zip")
        assert len(result.digits) == len(text)  # apart, the digits read as written
        assert len(looks) == expected, (text, looks)


def test_a_second_look_reuses_the_segments_the_first_read(reader: FieldReader, digits, monkeypatch) -> None:
    """Segments a second look shares with the first (same pixels) are not normalised or classified again, and
    the reading is the same as reading every segment afresh."""
    canvas = Canvas()
    write(canvas, digits, "2943", k=1)
    canvas.digit(digits[1][1], gap=-4)
    first = reader._prepare(FieldCrop(canvas.image(), "zip"))
    reader._read([first])
    again, fresh = first.cut_again(GENEROUS_CUTS), first.cut_again(GENEROUS_CUTS)
    fresh.earlier = None
    normalized: list[int] = []
    normalize = reader.classifier.normalize
    monkeypatch.setattr(reader.classifier, "normalize", lambda images, **kw: normalized.append(len(images)) or
                        normalize(images, **kw))  # fmt: skip
    reused = reader._read([again])[0]
    afresh = reader._read([fresh])[0]
    assert len(again.segments) == len(fresh.segments) == normalized[1]
    assert 0 < normalized[0] < normalized[1]  # some segments were read by the first look
    assert reused.digits == afresh.digits and reused.status == afresh.status
    assert abs(reused.confidence - afresh.confidence) < 1e-4
    assert np.allclose(again.probs, fresh.probs, atol=1e-5)
