"""Model ids and aliases in pixmake.yaml, through `load_project`: every form of Runware model id
Runware writes is accepted, a bare word that is not an alias gets a "did you mean", and each
catalog model's own qualities, backgrounds and sizes are checked before anything is sent."""

from __future__ import annotations

from pathlib import Path

import pytest

from pixmake import catalog
from pixmake.errors import SpecError
from pixmake.project import load_project


def _spec(model: str, extra: str = "") -> str:
    return (
        "version: 1\n"
        "assets:\n"
        "  hero:\n"
        "    prompt: a lighthouse at dusk\n"
        f"    model: '{model}'\n"
        f"{extra}"
        "    out: hero.png\n"
    )


def _load(root: Path, spec: str) -> dict[str, object]:
    (root / "pixmake.yaml").write_text(spec)
    return dict(load_project(root).assets)


def _error(root: Path, spec: str) -> SpecError:
    with pytest.raises(SpecError) as caught:
        _load(root, spec)
    return caught.value


@pytest.mark.parametrize(
    "model",
    [
        "openai:gpt-image@2",
        "openai:gpt-image@2.5-sunburst",
        "openai:4@1",
        "runware:100@1",
        "civitai:4384@128713",
        "runware:z-image@turbo",
        "bytedance:seedream@5.0-lite",
        "runware:ace-step@v1.5-base",
    ],
)
def test_every_form_of_runware_model_id_is_accepted(tmp_path: Path, model: str) -> None:
    asset = _load(tmp_path, _spec(model))["hero"]
    assert asset.model == model  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("alias", "model_id"),
    [
        ("gpt-image-1", "openai:1@1"),
        ("gpt-image-1-mini", "openai:1@2"),
        ("gpt-image-1.5", "openai:4@1"),
        ("gpt-image-2", "openai:gpt-image@2"),
        ("gpt-image-2.5-flare", "openai:gpt-image@2.5-flare"),
        ("gpt-image-2.5-sunburst", "openai:gpt-image@2.5-sunburst"),
    ],
)
def test_aliases_resolve_to_their_runware_ids(tmp_path: Path, alias: str, model_id: str) -> None:
    asset = _load(tmp_path, _spec(alias))["hero"]
    assert asset.model == model_id  # type: ignore[attr-defined]


def test_a_model_id_outside_the_catalog_gets_the_generic_rules(tmp_path: Path) -> None:
    spec = _spec("openai:gpt-image@9", "    size: 777x777\n")
    message = str(_error(tmp_path, spec))
    assert "size `777x777` is not available for openai:gpt-image@9" in message
    assert "steps of 64" in message


@pytest.mark.parametrize(
    "model",
    [
        "openai:gpt-image",  # no version
        "openai:@2",  # no name
        ":1@1",  # no provider
        "openai:1@",  # empty version
        "openai:1@1@2",  # two versions
        "openai 1@1",  # a space
        "openai:-x@1",  # a part that starts with a dash
    ],
)
def test_malformed_model_ids_are_refused_with_the_form(tmp_path: Path, model: str) -> None:
    error = _error(tmp_path, _spec(model))
    (problem,) = error.problems
    assert problem.file == "pixmake.yaml"
    assert problem.line == 5
    assert problem.path == "assets.hero.model"
    assert f"`{model}` is not a Runware model id (provider:name@version" in problem.message
    assert "write it as provider:name@version" in problem.fix


def test_an_upper_case_id_is_refused_with_the_id_it_meant(tmp_path: Path) -> None:
    (problem,) = _error(tmp_path, _spec("OpenAI:1@1")).problems
    assert problem.fix.startswith("did you mean openai:1@1?")


def test_an_unknown_alias_gets_a_did_you_mean_naming_file_and_line(tmp_path: Path) -> None:
    error = _error(tmp_path, _spec("gpt-image-3"))
    (problem,) = error.problems
    assert (problem.file, problem.line, problem.path) == ("pixmake.yaml", 5, "assets.hero.model")
    assert problem.message == "unknown model `gpt-image-3`"
    assert problem.fix.startswith("did you mean gpt-image-2 or gpt-image-1 or gpt-image-1.5?")
    assert "or a Runware model id (provider:name@version" in problem.fix
    text = str(error)
    assert "pixmake.yaml:5" in text
    assert "did you mean gpt-image-2" in text


def test_an_alias_far_from_every_name_lists_them_all(tmp_path: Path) -> None:
    (problem,) = _error(tmp_path, _spec("midjourney")).problems
    assert "did you mean" not in problem.fix
    for name in [*catalog.ALIASES, *catalog.MODELS]:
        assert name in problem.fix


def test_gpt_image_1_5_takes_the_qualities_its_page_prices(tmp_path: Path) -> None:
    (problem,) = _error(tmp_path, _spec("gpt-image-1.5", "    quality: auto\n")).problems
    assert problem.path == "assets.hero.quality"
    assert problem.message == "quality `auto` is not available for GPT Image 1.5"
    assert problem.fix == "use one of low, medium, high, or another model"
    asset = _load(tmp_path, _spec("gpt-image-1.5", "    quality: high\n    size: 1536x1024\n"))
    assert asset["hero"].quality == "high"  # type: ignore[attr-defined]


def test_gpt_image_2_refuses_a_transparent_background(tmp_path: Path) -> None:
    spec = _spec("gpt-image-2", "    background: transparent\n")
    (problem,) = _error(tmp_path, spec).problems
    assert problem.path == "assets.hero.background"
    assert problem.message == "background `transparent` is not available for GPT Image 2"
    assert problem.fix == "use one of opaque, auto, or another model"


def test_gpt_image_2_sizes_are_not_documented_so_any_size_to_the_bound_goes(
    tmp_path: Path,
) -> None:
    asset = _load(tmp_path, _spec("gpt-image-2", "    size: 2048x1152\n"))["hero"]
    assert (asset.width, asset.height) == (2048, 1152)  # type: ignore[attr-defined]
    message = str(_error(tmp_path, _spec("gpt-image-2", "    size: 8192x8192\n")))
    assert "size `8192x8192` is not available for GPT Image 2" in message
    assert "width and height from 16 to 4096" in message


def test_gpt_image_1_sizes_are_still_the_three(tmp_path: Path) -> None:
    message = str(_error(tmp_path, _spec("openai:1@1", "    size: 2048x1152\n")))
    assert "use one of: 1024x1024, 1536x1024, 1024x1536" in message


def test_every_unknown_fact_has_a_rule_the_readme_can_name() -> None:
    for model in catalog.MODELS.values():
        assert model.unknown <= set(catalog.UNKNOWN_RULES), model.id
        assert model.source, model.id
