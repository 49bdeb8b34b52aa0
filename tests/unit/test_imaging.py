from __future__ import annotations

import io

import pytest
from PIL import Image

from pixmake.errors import ProviderRejectedError
from pixmake.imaging import check_image, derive, encode
from pixmake.providers.base import GenerationRequest
from pixmake.providers.placeholder import draw
from pixmake.spec.asset import Derived
from tests.fakes import make_request


def _request(**changes: object) -> GenerationRequest:
    base: dict[str, object] = {"asset_id": "icon-sword", "key": "ab" * 16,
                               "prompt": "A short sword", "height": 1536}  # fmt: skip
    return make_request(**{**base, **changes})


@pytest.mark.parametrize(("fmt", "pil"), [("png", "PNG"), ("jpg", "JPEG"), ("webp", "WEBP")])
def test_placeholder_has_exact_size_and_format(fmt: str, pil: str) -> None:
    data = draw(_request(format=fmt, output_quality=None if fmt == "png" else 80))
    image = Image.open(io.BytesIO(data))
    assert (image.format, image.size) == (pil, (1024, 1536))
    check_image(data, fmt, 1024, 1536)


def test_placeholder_is_deterministic_and_keyed() -> None:
    assert draw(_request()) == draw(_request())
    assert draw(_request()) != draw(_request(key="cd" * 16))
    assert draw(_request(results=2), 0) != draw(_request(results=2), 1)


def test_placeholder_transparency() -> None:
    image = Image.open(io.BytesIO(draw(_request(background="transparent"))))
    assert image.mode == "RGBA"
    assert image.getpixel((0, 0))[3] == 0  # corner: transparent
    assert image.getpixel((512, 768))[3] == 255  # centre: drawn
    opaque = Image.open(io.BytesIO(draw(_request())))
    assert opaque.mode == "RGB"


def test_check_image_rejects_wrong_images() -> None:
    data = draw(_request())
    with pytest.raises(ProviderRejectedError, match="not the 1024x1024"):
        check_image(data, "png", 1024, 1024)
    with pytest.raises(ProviderRejectedError, match="not WEBP"):
        check_image(data, "webp", 1024, 1536)
    for fmt in ("png", "jpg", "webp"):
        whole = draw(_request(format=fmt, output_quality=None if fmt == "png" else 80))
        check_image(whole, fmt, 1024, 1536)
        with pytest.raises(ProviderRejectedError, match="does not decode"):
            check_image(whole[: len(whole) - 40], fmt, 1024, 1536)
    damaged = bytearray(data)
    damaged[len(damaged) // 2] ^= 0xFF  # one flipped byte inside the image data
    with pytest.raises(ProviderRejectedError, match="does not decode"):
        check_image(bytes(damaged), "png", 1024, 1536)


def test_derive_resize_crop_and_convert() -> None:
    source = encode(Image.new("RGBA", (1536, 1024), (10, 20, 30, 128)), "png")
    data, width, height = derive(source, Derived("x.png", 0, "png", resize=(128,)))
    assert (width, height) == (128, 85)
    data, width, height = derive(
        source, Derived("x.jpg", 0, "jpg", crop=(1024, 1024), resize=(64, 64), quality=70)
    )
    image = Image.open(io.BytesIO(data))
    assert (image.format, image.size, (width, height)) == ("JPEG", (64, 64), (64, 64))
    data, _, _ = derive(source, Derived("x.webp", 0, "webp", crop=(0, 0, 10, 20)))
    assert Image.open(io.BytesIO(data)).size == (10, 20)


def test_the_difference_image_shows_a_change_of_one_level() -> None:
    import io

    from PIL import Image

    from pixmake.imaging import difference

    before = Image.new("RGB", (64, 32), (120, 120, 120))
    after = before.copy()
    after.putpixel((10, 5), (121, 120, 120))
    sources = []
    for image in (before, after):
        buffer = io.BytesIO()
        image.save(buffer, "PNG")
        sources.append(buffer.getvalue())
    data, width, height = difference(sources[0], sources[1], 1024)
    assert (width, height) == (64, 32)
    with Image.open(io.BytesIO(data)) as shown:
        rgb = shown.convert("RGB")
        assert max(rgb.getpixel((10, 5))) > 80  # amplified: one level shows
        assert max(rgb.getpixel((40, 20))) < 40  # unchanged: the faint ghost only
