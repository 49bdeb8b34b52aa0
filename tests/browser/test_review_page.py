"""`pixmake review` in a real browser: Debian's headless chromium, driven by Playwright.

The server runs on a thread of the test (its actions call `asyncio.run` on theirs, away from
Playwright's loop); the page is opened from the address it prints, as a user opens it.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest

from pixmake.review.server import ReviewServer
from tests.browser.chromium import chromium, opened
from tests.browser.test_gallery_page import decoded
from tests.conftest import Project

SPEC = """\
version: 1
assets:
  hero: {prompt: a hero, out: hero.png, candidates: 3}
  plain: {prompt: plain, out: plain.png}
"""


@pytest.fixture
def server(project: Project) -> Iterator[ReviewServer]:
    project.gen({"pixmake.yaml": SPEC})
    project.build()
    with ReviewServer(project.root, provider="placeholder", out=io.StringIO()) as running:
        yield running


@pytest.fixture
def browser(server: ReviewServer) -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Any, server: ReviewServer) -> Iterator[Any]:
    with opened(browser, server.url) as page:
        yield page


def candidates(project: Project) -> list[str]:
    return [c[0]["hash"] for c in project.lock()["assets"]["hero"]["candidates"]]


def test_a_pick_made_by_clicking_changes_the_lock(page: Any, project: Project) -> None:
    assert page.url.endswith("/.pixmake/review/")  # the token is no longer in the address
    thumb = page.locator("#asset-hero .frame img").get_attribute("src")
    page.click("#asset-hero [data-action=pick]")
    page.wait_for_selector("#review-pick[open] .review-image")
    assert page.locator("#review-pick .review-image").count() == 3
    decoded(page, "#review-pick .review-image img")
    assert (
        page.locator("#review-pick .review-image[data-number='1'] .mark").inner_text() == "current"
    )
    page.click("#review-pick .review-image[data-number='2']")
    page.wait_for_selector("#review-toast.done")  # after the page was loaded again
    assert "Picked image 2" in page.locator("#review-toast").inner_text()
    hero = project.lock()["assets"]["hero"]
    assert hero["chosen"] == 1
    assert hero["outputs"][0]["hash"] == candidates(project)[1]
    assert page.locator("#asset-hero .frame img").get_attribute("src") != thumb
    page.click("#asset-hero [data-action=approve]")
    page.wait_for_selector("#asset-hero .approved")
    assert project.lock()["assets"]["hero"]["approved"] == [candidates(project)[1]]
    assert page.locator("#asset-hero [data-action=approve]").count() == 0


def test_a_reroll_asks_first_with_its_estimate(page: Any, project: Project) -> None:
    asked: list[str] = []

    def answer(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.dismiss() if len(asked) == 1 else dialog.accept()

    page.on("dialog", answer)
    page.click("#asset-plain [data-action=reroll]")
    page.wait_for_function("!document.body.classList.contains('review-busy')")
    assert asked == ["Reroll plain for ~0 USD?"]
    assert "candidates" not in project.lock()["assets"]["plain"]  # refused: nothing done
    page.click("#asset-plain [data-action=reroll]")
    page.wait_for_selector("#review-toast.done")
    assert len(asked) == 2
    assert len(project.lock()["assets"]["plain"]["candidates"]) == 2


def test_a_page_load_without_the_token_is_refused(browser: Any, server: ReviewServer) -> None:
    context = browser.new_context()
    opened = context.new_page()
    base = f"http://127.0.0.1:{server.port}"
    for address in (f"{base}/", f"{base}/.pixmake/review/", f"{base}/?token=not-the-token"):
        response = opened.goto(address)
        assert response.status == 403, address
        assert "forbidden" in opened.inner_text("body")
    assert "pixmakeActions" not in opened.content()
    context.close()
