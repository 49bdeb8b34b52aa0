"""The catalog's facts against the Runware pages its docstring cites, figure by figure, and the
README's tables against the catalog: a fact the catalog marks as not documented is said to be
so in the README's model table, and every documented one is not."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pixmake import catalog

README = Path(__file__).resolve().parents[2] / "README.md"
THREE_SIZES = {(1024, 1024), (1536, 1024), (1024, 1536)}

# https://runware.ai/docs/models/openai-gpt-image-1-5 (and its .md and schema.json), "Pricing".
GPT_IMAGE_1_5_PRICES = {
    ("low", (1024, 1024)): 0.009,
    ("low", (1024, 1536)): 0.013,
    ("low", (1536, 1024)): 0.013,
    ("medium", (1024, 1024)): 0.034,
    ("medium", (1024, 1536)): 0.051,
    ("medium", (1536, 1024)): 0.05,
    ("high", (1024, 1024)): 0.133,
    ("high", (1024, 1536)): 0.20,
    ("high", (1536, 1024)): 0.199,
}


def test_gpt_image_1_5_is_what_its_page_says() -> None:
    model = catalog.MODELS["openai:4@1"]
    assert model.source == "https://runware.ai/docs/models/openai-gpt-image-1-5"
    assert (model.name, model.aliases) == ("GPT Image 1.5", ("gpt-image-1.5",))
    assert set(model.sizes) == THREE_SIZES
    assert model.prices == GPT_IMAGE_1_5_PRICES
    assert model.qualities == ("low", "medium", "high")  # the three the page prices
    assert model.quality_at == "providerSettings.openai.quality"


@pytest.mark.parametrize(
    ("model_id", "alias", "page"),
    [
        ("openai:1@1", "gpt-image-1", "https://runware.ai/docs/models/openai-gpt-image-1"),
        (
            "openai:1@2",
            "gpt-image-1-mini",
            "https://runware.ai/docs/models/openai-gpt-image-1-mini",
        ),
    ],
)
def test_gpt_image_1_and_mini_take_the_sizes_their_pages_list(
    model_id: str, alias: str, page: str
) -> None:
    model = catalog.MODELS[model_id]
    assert (model.source, model.aliases) == (page, (alias,))
    assert set(model.sizes) == THREE_SIZES


def test_gpt_image_1s_one_price_on_its_page_is_its_high_square_price() -> None:
    # https://runware.ai/docs/models/openai-gpt-image-1: "1k: $0.167"
    assert catalog.MODELS["openai:1@1"].price("high", (1024, 1024)) == 0.167


@pytest.mark.parametrize(
    "model_id",
    ["openai:gpt-image@2", "openai:gpt-image@2.5-flare", "openai:gpt-image@2.5-sunburst"],
)
def test_what_no_runware_page_gives_for_gpt_image_2_is_not_invented(model_id: str) -> None:
    model = catalog.MODELS[model_id]
    assert model.prices == {}
    assert model.sizes == ()
    assert {"sizes", "qualities", "max_references", "prompt_length", "prices"} <= model.unknown
    assert model.quality_at == "settings.quality"
    assert model.background_at is None


# -- the README says what the catalog does ----------------------------------------------------

COLUMNS = ("sizes", "qualities", "backgrounds", "max_references", "prompt_length")


def _model_table() -> dict[str, dict[str, str]]:
    """The README's "What each model takes" rows: alias -> fact -> cell, `as <alias>` resolved."""
    text = README.read_text(encoding="utf-8")
    table = text.split("**What each model takes.**", 1)[1].split("\n\n", 2)[1]
    rows: dict[str, dict[str, str]] = {}
    for line in table.splitlines()[2:]:
        first, *cells = (c.strip() for c in line.strip().strip("|").split("|"))
        assert len(cells) == len(COLUMNS), line
        for alias in re.findall(r"gpt-image-[\w.-]+", first):
            rows[alias] = dict(zip(COLUMNS, cells, strict=True))
    for row in rows.values():
        for fact, cell in row.items():
            while (same := re.match(r"as (gpt-image-[\w.-]+)", cell)) is not None:
                cell = rows[same.group(1)][fact]
            row[fact] = cell
    return rows


def test_the_readme_model_table_says_not_documented_exactly_where_the_catalog_does() -> None:
    rows = _model_table()
    assert set(rows) == set(catalog.ALIASES)
    for alias, model_id in catalog.ALIASES.items():
        unknown = catalog.MODELS[model_id].unknown
        for fact, cell in rows[alias].items():
            said = cell.startswith("not documented")
            assert said == (fact in unknown), f"{alias} {fact}: {cell!r}"


def test_the_readme_price_table_has_the_catalogs_figures() -> None:
    text = README.read_text(encoding="utf-8")
    table = text.split("**What a build costs.**", 1)[1].split("\n\n", 2)[1]
    rows = {line.split("|")[1].strip(): line for line in table.splitlines()[2:]}
    priced = {a: catalog.MODELS[m] for a, m in catalog.ALIASES.items() if catalog.MODELS[m].prices}
    assert set(rows) == set(priced)
    for alias, model in priced.items():
        figures = set(re.findall(r"\b0\.\d+", rows[alias]))
        assert {f"{p:.3f}".rstrip("0") for p in model.prices.values()} <= {
            f.rstrip("0") for f in figures
        }, alias
