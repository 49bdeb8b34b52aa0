"""Money: what `plan` estimates, what `--max-cost` and `--max-new` let through, and why."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pixmake.testing.fake_runware import FakeRunware
from tests.conftest import Project, serve_fake
from tests.fakes import CtrlCAtFirstPoll

KEY = "sk-live-money0123456789"
FAST = "providers:\n  runware: {poll_interval: 0.01, retry_backoff: 0.01}\n"
HIGH = 0.036  # gpt-image-1-mini, high, 1024x1024
WIDE_HIGH = 0.052  # the same at 1536x1024
UNPRICED = "runware:100@1"  # a Runware model id the catalog has no price for


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeRunware]:
    with serve_fake(monkeypatch, KEY) as server:
        yield server


def _assets(project: Project, count: int, extra: str = "") -> None:
    assets = "".join(f"  a{i}: {{prompt: p{i}, out: a{i}.png}}\n" for i in range(count))
    project.gen(
        {"pixmake.yaml": f"version: 1\ndefaults: {{quality: high}}\n{FAST}assets:\n{assets}{extra}"}
    )


# -- --max-cost and --max-new -----------------------------------------------------------------


def test_max_cost_counts_only_what_max_new_lets_through(
    fake: FakeRunware, project: Project
) -> None:
    _assets(project, 5)  # 5 x 0.036 = 0.18 in all; 2 of them cost 0.072
    result = project.run("build", "-j", "1", "--max-cost", "0.1", "--max-new", "2", "--json")
    assert "estimated at" not in result.err
    summary = result.last_json()
    assert (summary["generated"], summary["skipped"]) == (2, 3)
    assert len(fake.charges()) == 2


def test_max_new_is_bounded_by_its_dearest_assets(fake: FakeRunware, project: Project) -> None:
    _assets(project, 4, "  wide: {prompt: w, out: wide.png, size: 1536x1024}\n")
    refused = project.run("build", "--max-cost", "0.04", "--max-new", "1")
    assert refused.code == 1
    assert f"estimated at {WIDE_HIGH:.4f} USD" in refused.err
    assert "--max-new 1" in refused.err
    assert fake.count("imageInference") == 0


@pytest.mark.parametrize("value", ["-1", "-0.01", "nan"])
def test_a_negative_max_cost_is_a_usage_error(
    project: Project, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    _assets(project, 1)
    with pytest.raises(SystemExit) as exit_:
        project.run("build", "--provider", "placeholder", f"--max-cost={value}")
    assert exit_.value.code == 2
    assert "--max-cost" in capsys.readouterr().err
    assert not (project.root / "a0.png").exists()


def test_a_negative_max_new_is_a_usage_error(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    _assets(project, 1)
    with pytest.raises(SystemExit) as exit_:
        project.run("build", "--provider", "placeholder", "--max-new=-1")
    assert exit_.value.code == 2
    assert "--max-new" in capsys.readouterr().err


def test_max_cost_zero_allows_free_work(project: Project) -> None:
    _assets(project, 2)
    summary = project.build("--max-cost", "0")  # the placeholder costs nothing
    assert summary["generated"] == 2


# -- a model without a known price ------------------------------------------------------------


def _unpriced(project: Project) -> None:
    _assets(project, 1, f"  hero: {{prompt: a hero, out: hero.png, model: '{UNPRICED}'}}\n")


def test_plan_shows_unknown_for_a_model_without_a_price(project: Project) -> None:
    _unpriced(project)
    text = project.run("plan")
    assert text.code == 0
    rows = {line.split()[1]: line for line in text.out.splitlines() if line.startswith("generate")}
    assert "unknown" in rows["hero"]
    assert f"~{HIGH:.3f} USD" in rows["a0"]
    assert "unknown" in text.out.splitlines()[-1]
    document = project.run("plan", "--json").json()
    costs = {a["id"]: a["estimated_cost_usd"] for a in document["assets"]}
    assert costs == {"a0": HIGH, "hero": None}
    assert document["estimated_cost_usd"] is None
    assert document["unpriced"] == 1


def test_max_cost_refuses_a_plan_it_cannot_bound(fake: FakeRunware, project: Project) -> None:
    _unpriced(project)
    refused = project.run("build", "--max-cost", "100")
    assert refused.code == 1
    assert "hero" in refused.err
    assert UNPRICED in refused.err
    assert "no known price" in refused.err
    assert "fix:" in refused.err
    assert fake.count("imageInference") == 0
    assert project.run("build", "a0", "--max-cost", "100").code == 0  # bounded: it goes


def test_an_unpriced_model_is_free_with_the_placeholder(project: Project) -> None:
    _unpriced(project)
    assert project.build("--max-cost", "0")["generated"] == 2


# -- after an interrupt -----------------------------------------------------------------------


def test_plan_after_an_interrupt_leaves_out_what_was_paid(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    with CtrlCAtFirstPoll(api_key=KEY, processing_polls=10**9) as fake:
        monkeypatch.setenv("RUNWARE_BASE_URL", fake.url)
        monkeypatch.setenv("RUNWARE_API_KEY", KEY)
        _assets(project, 3)
        assert project.run("build", "-j", "1").code == 130
        [paid] = fake.charges()  # a0 was sent and charged; its images are still to collect

        text = project.run("plan")
        rows = {line.split()[1]: line for line in text.out.splitlines() if "generate" in line}
        assert "paid" in rows["a0"]
        assert f"~{HIGH:.3f} USD" not in rows["a0"]
        assert "1 paid, to collect" in text.out
        assert f"estimated cost {2 * HIGH:.4f} USD" in text.out
        document = project.run("plan", "--json").json()
        assert document["estimated_cost_usd"] == pytest.approx(2 * HIGH)
        assert document["paid_to_collect"] == 1
        by_id = {a["id"]: a for a in document["assets"]}
        assert by_id["a0"]["paid"] is True
        assert by_id["a0"]["estimated_cost_usd"] == 0.0

        fake.hold(paid, 0)
        fake.processing_polls = 0
        budget = f"{2 * HIGH + 0.001:.4f}"  # enough for the two not paid for: a0 is collected
        resumed = project.run("build", "-j", "1", "--max-cost", budget, "--json")
        assert resumed.code == 0, resumed.err
        assert resumed.last_json()["generated"] == 3
        assert len(fake.charges()) == 3
        assert set(fake.charges().values()) == {1}  # a0 was not paid for twice
