"""Builds with the newer GPT Image models against the fake Runware server on 127.0.0.1: each
model's task carries quality and background where that model takes them, and the fake (which
accepts every catalog model) refuses a task shaped for another model."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from pixmake import catalog
from pixmake.testing.fake_runware import FakeRunware
from tests.conftest import Project, png_bytes, serve_fake

KEY = "sk-test-models-0123456789"
FAST = "providers:\n  runware: {poll_interval: 0.01, retry_backoff: 0.01}\n"


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeRunware]:
    with serve_fake(monkeypatch, KEY) as server:
        yield server


def _lock(project: Project) -> dict[str, Any]:
    return json.loads((project.root / "pixmake.lock").read_text())["assets"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("model", ["gpt-image-2", "openai:gpt-image@2"])
def test_an_asset_with_gpt_image_2_builds(fake: FakeRunware, project: Project, model: str) -> None:
    project.gen(
        {
            "pixmake.yaml": f"version: 1\n{FAST}assets:\n"
            f"  hero: {{model: '{model}', prompt: a lighthouse, size: 1536x864,"
            " quality: high, references: [refs/style.png], out: hero.png}\n",
            "refs/style.png": png_bytes(),
        }
    )
    result = project.run("build", "--json")
    assert result.code == 0, result.out + result.err
    (task,) = fake.tasks_sent
    assert task["model"] == "openai:gpt-image@2"
    assert task["settings"] == {"quality": "high"}
    assert "providerSettings" not in task
    assert (task["width"], task["height"]) == (1536, 864)
    assert len(task["inputs"]["referenceImages"]) == 1
    entry = _lock(project)["hero"]
    assert entry["request"]["model"] == "openai:gpt-image@2"
    assert entry["outputs"][0]["width"] == 1536
    assert project.run("check").code == 0


def test_gpt_image_2_has_no_price_so_plan_says_it_cannot_estimate(
    fake: FakeRunware, project: Project
) -> None:
    project.gen(
        {
            "pixmake.yaml": f"version: 1\n{FAST}assets:\n  a: {{model: gpt-image-2, prompt: p,"
            " out: a.png}\n"
        }
    )
    document = project.run("plan", "--json").json()
    assert document["assets"][0]["estimated_cost_usd"] is None
    assert fake.tasks_sent == []


def test_gpt_image_1_5_is_estimated_from_its_page_and_sent_with_provider_settings(
    fake: FakeRunware, project: Project
) -> None:
    project.gen(
        {
            "pixmake.yaml": f"version: 1\n{FAST}assets:\n"
            "  a: {model: gpt-image-1.5, prompt: p, size: 1536x1024, quality: medium,"
            " background: transparent, out: a.png}\n"
        }
    )
    document = project.run("plan", "--json").json()
    assert document["estimated_cost_usd"] == pytest.approx(0.05)
    result = project.run("build", "--json")
    assert result.code == 0, result.out + result.err
    (task,) = fake.tasks_sent
    assert task["model"] == "openai:4@1"
    assert task["providerSettings"] == {
        "openai": {"quality": "medium", "background": "transparent"}
    }
    assert result.last_json()["cost_usd"] == pytest.approx(0.05)


def _post(fake: FakeRunware, task: dict[str, Any]) -> httpx.Response:
    body = [{"taskType": "imageInference", "taskUUID": str(uuid.uuid4()), **task}]
    return httpx.post(fake.url, json=body, headers={"Authorization": f"Bearer {KEY}"})


BASE = {"positivePrompt": "p", "width": 1024, "height": 1024, "deliveryMethod": "sync"}


@pytest.mark.parametrize("model_id", sorted(catalog.MODELS))
def test_the_fake_accepts_every_catalog_model(fake: FakeRunware, model_id: str) -> None:
    model = catalog.MODELS[model_id]
    answer = _post(fake, {**BASE, "model": model_id, **model.wire_settings("low", "opaque")})
    assert answer.status_code == 200, answer.text
    assert answer.json()["data"][0]["imageUUID"]


def test_the_fake_refuses_provider_settings_for_gpt_image_2(fake: FakeRunware) -> None:
    settings = {"providerSettings": {"openai": {"quality": "low"}}}
    answer = _post(fake, {**BASE, "model": "openai:gpt-image@2", **settings})
    assert answer.status_code == 400
    (error,) = answer.json()["errors"]
    assert (error["code"], error["parameter"]) == ("unsupportedParameter", "providerSettings")


def test_the_fake_refuses_a_quality_gpt_image_1_5_does_not_take(fake: FakeRunware) -> None:
    settings = {"providerSettings": {"openai": {"quality": "auto", "background": "opaque"}}}
    answer = _post(fake, {**BASE, "model": "openai:4@1", **settings})
    assert answer.status_code == 400
    (error,) = answer.json()["errors"]
    assert error["parameter"] == "providerSettings.openai.quality"
    assert error["allowedValues"] == ["low", "medium", "high"]
