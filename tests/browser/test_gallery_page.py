"""The gallery in a real browser: Debian's headless chromium, driven by Playwright.

No browser is downloaded: the test launches /usr/bin/chromium (`.ci/run` installs it where
it is missing) and fails, never skips, without it. The page is opened from file://, as a
user opens it, with the website example built, committed, changed and built again.
"""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image

from tests.browser.chromium import chromium, opened
from tests.conftest import Project, copy_example, git


@pytest.fixture
def browser(site: Project) -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def site(project: Project, git_identity: None) -> Project:
    """The website example, committed; then the hero's prompt changed and the hero alone
    rebuilt: the hero changed since HEAD, its four thumbnails upstream-changed."""
    copy_example("website", project.root)
    project.build()
    git(project.root, "init", "-q")
    (project.root / ".gitignore").write_text(".pixmake/\n")
    git(project.root, "add", "-A")
    git(project.root, "commit", "-q", "-m", "site")
    spec = project.root / "pixmake.yaml"
    spec.write_text(spec.read_text().replace("at dawn", "at dusk"))
    project.build("hero")
    result = project.run("gallery", "--provider", "placeholder")
    assert result.code == 0, result.err
    shutil.rmtree(project.root / ".pixmake/objects")  # the page needs nothing from the store
    return project


@pytest.fixture
def page(browser: Any, site: Project) -> Iterator[Any]:
    with opened(browser, (site.root / ".pixmake/gallery/index.html").as_uri()) as page:
        yield page


def decoded(page: Any, selector: str) -> None:
    """Every image matched is scrolled to (they load lazily) and has decoded."""
    images = page.locator(selector)
    assert images.count() > 0
    for i in range(images.count()):
        image = images.nth(i)
        image.scroll_into_view_if_needed()
        image.evaluate("img => img.decode()")
        assert image.evaluate("img => img.complete && img.naturalWidth > 0"), i


def visible_ids(page: Any) -> list[str]:
    ids: list[str] = page.eval_on_selector_all(".card", "cards => cards.map(c => c.dataset.id)")
    return ids


def test_the_page_loads_from_file_and_every_image_decodes(page: Any) -> None:
    assert visible_ids(page) == [
        "hero", "thumb-travel", "thumb-food", "thumb-design", "thumb-music",
    ]  # fmt: skip
    assert page.locator(".group h2").all_inner_texts() == ["hero", "thumb-{{ topic }}"]
    decoded(page, ".card img")
    assert page.locator("#asset-hero .ribbon").inner_text() == "changed since HEAD"
    assert page.locator("#asset-thumb-food .state").inner_text() == "upstream-changed"
    page.click("#asset-hero .compare-btn")
    for mode in ("side", "swipe", "blink", "diff"):
        page.click(f".modes [data-mode={mode}]")
        decoded(page, f".view-{mode} img:not([hidden])")


def pixel(locator: Any, x: float, y: float) -> tuple[int, ...]:
    """The colour shown at (x, y), as fractions of the element's box, in a screenshot."""
    with Image.open(io.BytesIO(locator.screenshot())) as shot:
        colour: tuple[int, ...] = shot.convert("RGB").getpixel(
            (int(shot.width * x), int(shot.height * y))
        )
        return colour


def test_swipe_and_blink_change_what_is_shown(page: Any) -> None:
    page.click("#asset-hero .compare-btn")
    page.click(".modes [data-mode=swipe]")
    swipe = page.locator("#swipe")
    middle = pixel(swipe, 0.3, 0.6), pixel(swipe, 0.7, 0.6)
    page.focus("#swipe-range")
    page.keyboard.press("Home")  # after, everywhere
    after = pixel(swipe, 0.3, 0.6), pixel(swipe, 0.7, 0.6)
    page.keyboard.press("End")  # before, everywhere
    before = pixel(swipe, 0.3, 0.6), pixel(swipe, 0.7, 0.6)
    assert before[0] == before[1] != after[0] == after[1]
    assert middle == (before[0], after[1])  # before on the left of the handle, after right
    page.click(".modes [data-mode=blink]")
    blink = page.locator("#blink")
    assert page.locator("#blink-label").inner_text() == "After"
    assert pixel(blink, 0.5, 0.6) == after[0]
    page.click("#blink-toggle")
    assert page.locator("#blink-label").inner_text() == "Before"
    assert pixel(blink, 0.5, 0.6) == before[0]
    page.keyboard.press("b")
    assert pixel(blink, 0.5, 0.6) == after[0]


def test_filters_by_state_and_series_and_search(page: Any) -> None:
    page.click(".chip[data-state=upstream-changed]")
    assert visible_ids(page) == ["thumb-travel", "thumb-food", "thumb-design", "thumb-music"]
    assert page.locator("#shown").inner_text() == "4 of 5 shown"
    page.click(".chip[data-state='']")
    page.select_option("#series", "hero")
    assert visible_ids(page) == ["hero"]
    page.select_option("#series", "")
    page.click(".chip[data-since]")
    assert visible_ids(page) == ["hero"]
    page.click(".chip[data-since]")
    page.fill("#search", "FOOD illustration")
    assert visible_ids(page) == ["thumb-food"]
    page.fill("#search", "no such words")
    assert visible_ids(page) == []
    assert page.locator("#empty").is_visible()
    page.click("#reset")
    assert len(visible_ids(page)) == 5


def test_an_asset_reference_jumps_to_its_card(page: Any) -> None:
    page.set_viewport_size({"width": 400, "height": 700})
    page.select_option("#series", "thumb-{{ topic }}")
    page.locator("#asset-thumb-music a[data-target=hero]").click()
    hero = page.locator("#asset-hero")
    assert hero.is_visible()  # the filter that hid it is lifted
    box = hero.bounding_box()
    assert box is not None
    assert 0 <= box["y"] + box["height"] / 2 <= 700
    assert page.evaluate("location.hash") == "#asset-hero"
