"""Series expansion, tables, templates and the catalog rules, through `load_project`."""

from __future__ import annotations

from pathlib import Path

import pytest

from pixmake.errors import SpecError
from pixmake.project import load_project


def _load(root: Path, spec: str, **files: str) -> dict[str, object]:
    (root / "pixmake.yaml").write_text(spec)
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return dict(load_project(root).assets)


def _error(root: Path, spec: str, **files: str) -> str:
    with pytest.raises(SpecError) as caught:
        _load(root, spec, **files)
    return str(caught.value)


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("t.csv", "k,v\na,one\nb,two\n"),
        ("t.json", '[{"k": "a", "v": "one"}, {"k": "b", "v": "two"}]'),
        ("t.yaml", "- {k: a, v: one}\n- {k: b, v: two}\n"),
    ],
)
def test_tables_drive_series(tmp_path: Path, name: str, text: str) -> None:
    spec = (
        f"version: 1\ndata: {{t: {name}}}\nassets:\n"
        "  'x-{{ row.k }}': {for_each: t, as: row, prompt: '{{ row.v }} {{ index }}', "
        "out: 'x/{{ row.k }}.png'}\n"
    )
    assets = _load(tmp_path, spec, **{name: text})
    assert list(assets) == ["x-a", "x-b"]
    assert assets["x-b"].prompt == "two 1"  # type: ignore[attr-defined]
    assert assets["x-b"].outputs == ("x/b.png",)  # type: ignore[attr-defined]


def test_inline_list_and_matrix(tmp_path: Path) -> None:
    spec = (
        "version: 1\nassets:\n"
        "  'l-{{ item }}': {for_each: [red, blue], prompt: '{{ item }}', out: 'l/{{ item }}.png'}\n"
        "  'm-{{ flavor }}-{{ size }}':\n"
        "    matrix: {flavor: [mint, lime], size: [s, m]}\n"
        "    prompt: '{{ item.flavor }} {{ size }}'\n"
        "    out: 'm/{{ id }}.png'\n"
    )
    assets = _load(tmp_path, spec)
    assert list(assets) == ["l-red", "l-blue", "m-mint-s", "m-mint-m", "m-lime-s", "m-lime-m"]
    assert assets["m-lime-m"].outputs == ("m/m-lime-m.png",)  # type: ignore[attr-defined]


def test_templated_settings_and_numbered_results(tmp_path: Path) -> None:
    spec = (
        "version: 1\nassets:\n"
        "  'a-{{ item.q }}':\n    for_each: [{q: low, s: 1536x1024}]\n"
        "    quality: '{{ item.q }}'\n    size: '{{ item.s }}'\n    results: 3\n"
        "    prompt: p\n    out: a.webp\n    format: webp\n"
        "    derive: [{resize: 64, out: small.png}]\n"
    )
    asset = _load(tmp_path, spec)["a-low"]
    assert (asset.quality, asset.width, asset.height) == ("low", 1536, 1024)  # type: ignore[attr-defined]
    assert asset.outputs == ("a-1.webp", "a-2.webp", "a-3.webp")  # type: ignore[attr-defined]
    assert [d.path for d in asset.derived] == ["small-1.png", "small-2.png", "small-3.png"]  # type: ignore[attr-defined]
    assert asset.output_quality == 95  # type: ignore[attr-defined]


def test_generic_runware_model_ids(tmp_path: Path) -> None:
    asset = _load(
        tmp_path,
        "version: 1\nassets:\n"
        "  a: {model: 'runware:100@1', size: 768x1280, prompt: ab, out: a.png}\n",
    )["a"]
    assert asset.model == "runware:100@1"  # type: ignore[attr-defined]
    message = _error(
        tmp_path,
        "version: 1\nassets:\n"
        "  a: {model: 'runware:100@1', size: 777x777, prompt: ab, out: a.png}\n",
    )
    assert "steps of 64" in message


def test_prompt_and_reference_limits(tmp_path: Path) -> None:
    refs = "".join(f"r{i}.png: x\n" for i in range(17))
    for i in range(17):
        (tmp_path / f"r{i}.png").write_text("x")
    message = _error(
        tmp_path,
        "version: 1\nassets:\n  a:\n    prompt: p\n    out: a.png\n    references: ["
        + ", ".join(f"r{i}.png" for i in range(17))
        + "]\n  b: {prompt: '"
        + "x" * 32001
        + "', out: b.png}\n",
    )
    assert refs  # the reference files exist, so only the count is wrong
    assert "17 references; GPT Image 1 Mini takes at most 16" in message
    assert "32001 characters" in message


def test_include_reads_project_templates(tmp_path: Path) -> None:
    spec = (
        "version: 1\nvars: {c: teal}\n"
        "assets:\n  a: {prompt: \"{% include 'p/a.j2' %}\", out: a.png}\n"
    )
    assets = _load(tmp_path, spec, **{"p/a.j2": "A {{ c }} fox\n"})
    assert assets["a"].prompt == "A teal fox"  # type: ignore[attr-defined]


def test_undefined_variable_in_an_included_template_names_that_file(tmp_path: Path) -> None:
    spec = "version: 1\nassets:\n  a: {prompt: \"{% include 'p/a.j2' %}\", out: a.png}\n"
    message = _error(tmp_path, spec, **{"p/a.j2": "line one\nA {{ colour }} fox\n"})
    assert "p/a.j2:2" in message
    assert "'colour' is undefined" in message


def test_profile_beats_asset_beats_defaults(tmp_path: Path) -> None:
    spec = (
        "version: 1\ndefaults: {quality: low, format: webp}\nprofiles: {hi: {quality: high}}\n"
        "assets:\n  a: {prompt: p, out: a.webp, quality: medium}\n"
    )
    (tmp_path / "pixmake.yaml").write_text(spec)
    assert load_project(tmp_path).assets["a"].quality == "medium"
    assert load_project(tmp_path, profile="hi").assets["a"].quality == "high"
    assert load_project(tmp_path, provider="placeholder").assets["a"].provider == "placeholder"
