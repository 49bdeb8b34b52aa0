"""Images pixmake cannot or must not open are clear errors naming the file, never tracebacks."""

from __future__ import annotations

import struct
import zlib

import pytest

from pixmake.errors import ProviderRejectedError
from pixmake.imaging import MAX_PIXELS, check_image, derive
from pixmake.spec.asset import Derived
from tests.conftest import Project, png_bytes

SPEC = "version: 1\nassets:\n  hero:\n    prompt: a hero\n    out: hero.png\n"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def claimed_png(width: int, height: int) -> bytes:
    """A small, well-formed PNG whose header claims width x height (1-bit grey): a bomb."""
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    row = b"\x00" + b"\x00" * ((width + 7) // 8)
    body = zlib.compress(row * 4)  # a few rows only: the file stays small
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", body)
        + _chunk(b"IEND", b"")
    )


BOMB = claimed_png(50_000, 50_000)  # 2.5 gigapixels: past Pillow's own refusal
OVER = claimed_png(8193, 8192)  # just over our bound: Pillow only warns there


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"not an image at all\n", "is not an image"),
        (b"", "is not an image"),
        (png_bytes()[:-20], "does not decode"),
        (BOMB, "is too large to open"),
        (OVER, "is too large to open"),
    ],
    ids=["text", "empty", "truncated", "bomb", "over-the-bound"],
)
def test_accepting_a_file_that_is_not_a_usable_image_is_a_clear_error(
    project: Project, content: bytes, words: str
) -> None:
    project.gen({"pixmake.yaml": SPEC, "hero.png": content})
    result = project.run("accept", "hero")
    assert result.code == 2, result.err
    assert "Traceback" not in result.err
    assert "cannot accept `hero`: `hero.png` " + words in result.err
    assert not (project.root / "pixmake.lock").exists()
    assert project.read("hero.png") == content  # left as it was


def test_accepting_a_real_image_still_works(project: Project) -> None:
    project.gen({"pixmake.yaml": SPEC, "hero.png": png_bytes((16, 8))})
    result = project.run("accept", "hero")
    assert result.code == 0, result.err
    output = project.lock()["assets"]["hero"]["outputs"][0]
    assert (output["width"], output["height"]) == (16, 8)


@pytest.mark.parametrize("data", [BOMB, OVER], ids=["bomb", "over-the-bound"])
def test_a_provider_image_past_the_bound_is_rejected(data: bytes) -> None:
    with pytest.raises(ProviderRejectedError, match="too large to open"):
        check_image(data, "png", 50_000, 50_000)
    step = Derived(path="thumb.png", source=0, format="png", resize=(64,))
    with pytest.raises(ProviderRejectedError, match=r"cannot derive `thumb\.png`.*too large"):
        derive(data, step)


def test_the_bound_is_far_above_every_size_pixmake_asks_for() -> None:
    from pixmake.catalog import MODELS, resolve_model

    models = [*MODELS.values(), resolve_model("runware:100@1")]
    for model in models:
        assert model is not None
        largest = max([w * h for w, h in model.sizes] or [model.size_range[1] ** 2])
        assert largest * 4 <= MAX_PIXELS


def test_accepting_an_image_in_another_format_than_its_path_says_is_refused(
    project: Project,
) -> None:
    import io

    from PIL import Image

    jpeg = io.BytesIO()
    Image.new("RGB", (16, 8), (200, 10, 10)).save(jpeg, "JPEG")
    project.gen({"pixmake.yaml": SPEC, "hero.png": jpeg.getvalue()})
    result = project.run("accept", "hero")
    assert result.code == 2
    assert "cannot accept `hero`: `hero.png` is a JPEG image, not PNG" in result.err
    assert "fix: put a PNG image at hero.png" in result.err
    assert not (project.root / "pixmake.lock").exists()


def test_accept_names_what_it_takes_when_given_a_file(project: Project) -> None:
    project.gen({"pixmake.yaml": SPEC, "mine.png": png_bytes((16, 8))})
    result = project.run("accept", "mine.png")
    assert result.code == 2
    assert "no asset matches `mine.png`" in result.err
    assert "`pixmake accept` takes asset ids or globs" in result.err
