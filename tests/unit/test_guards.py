"""Guards for invariants: the committed schema is current; lint and strict typing hold."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from pixmake.planner import prompt_diff
from pixmake.spec.models import json_schema

ROOT = Path(__file__).resolve().parents[2]


def test_committed_schema_is_current() -> None:
    committed = json.loads((ROOT / "schema/pixmake.schema.json").read_text())
    assert committed == json_schema(), "run `pixmake schema > schema/pixmake.schema.json`"


def test_examples_validate(tmp_path: Path) -> None:
    from pixmake.project import load_project

    for example in sorted((ROOT / "examples").iterdir()):
        if example.name == "ci":
            continue  # a workflow, not a project: below
        project = load_project(example, provider="placeholder")
        assert project.assets, example


def test_the_ci_example_is_a_workflow_of_shards_then_collect() -> None:
    import yaml

    workflow = yaml.safe_load((ROOT / "examples/ci/pixmake.yml").read_text())
    jobs = workflow["jobs"]
    assert set(jobs) == {"check", "shard", "collect"}
    assert jobs["collect"]["needs"] == "shard"
    assert jobs["collect"]["permissions"] == {"contents": "write"}
    shards = jobs["shard"]["strategy"]["matrix"]["shard"]
    [build] = [s["run"] for s in jobs["shard"]["steps"] if "pixmake build" in s.get("run", "")]
    assert "--shard ${{ matrix.shard }}/${{ strategy.job-total }}" in build
    assert shards == list(range(1, len(shards) + 1))
    assert any(s.get("run") == "pixmake check" for s in jobs["check"]["steps"])


def test_prompt_diff_marks_words() -> None:
    assert (
        prompt_diff("a red fox at dawn", "a blue fox at dawn") == "a [-red-] {+blue+} fox at dawn"
    )


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    assert found, f"{name} is a dev dependency: pip install -e '.[dev]'"
    return found


def test_ruff_lint_and_format() -> None:
    ruff = _tool("ruff")
    for args in (
        ["check", "src", "tests", "bench"],
        ["format", "--check", "src", "tests", "bench"],
    ):
        done = subprocess.run([ruff, *args], cwd=ROOT, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_strict() -> None:
    done = subprocess.run([_tool("mypy")], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_plain_spec_values_have_the_models_fields() -> None:
    """values.py mirrors models.py without pydantic: a field added to one must be in both."""
    from pixmake.spec import models, values

    for name, plain in values.CLASSES.items():
        model = getattr(models, name)
        expected = [*model.model_fields, "fields_set"]
        assert sorted(plain.__dataclass_fields__) == sorted(expected), name
