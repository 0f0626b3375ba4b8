"""The shipped seed sets: sizes, coverage, parallel links and fixed splits."""

from __future__ import annotations

from collections import Counter

import pytest

from rass.data.schema import CATEGORIES, LOOKALIKE_TYPES
from rass.data.seeds import load_seeds, round_robin, seed_langs
from rass.data.splits import assign_split

LANGS = ["ar", "de", "en", "es", "fr", "ja", "ru", "zh"]


@pytest.fixture(scope="module")
def seeds():  # type: ignore[no-untyped-def]
    return load_seeds()


def test_every_language_is_shipped() -> None:
    assert seed_langs() == LANGS


def test_english_sizes_and_coverage(seeds) -> None:  # type: ignore[no-untyped-def]
    en = [r for r in seeds if r.lang == "en"]
    harmful = [r for r in en if r.label == "harmful"]
    harmless = [r for r in en if r.label == "benign" and r.kind == "seed"]
    lookalike = [r for r in en if r.kind == "lookalike"]
    assert len(harmful) >= 200 and len(harmless) >= 200 and len(lookalike) >= 150
    assert {r.category for r in harmful} == set(CATEGORIES) - {"none"}
    assert {r.category for r in harmless} == {"none"}
    assert {r.meta["lookalike_type"] for r in lookalike} == set(LOOKALIKE_TYPES)
    assert all(r.label == "benign" and r.category != "none" for r in lookalike)


def test_other_languages_have_parallel_sets_of_at_least_60(seeds) -> None:  # type: ignore[no-untyped-def]
    counts = Counter((r.lang, r.kind, r.label) for r in seeds if r.lang != "en")
    for lang in set(LANGS) - {"en"}:
        assert counts[(lang, "seed", "harmful")] >= 60
        assert counts[(lang, "seed", "benign")] >= 60
        assert counts[(lang, "lookalike", "benign")] >= 60


def test_translations_link_to_their_english_item_and_share_its_split(seeds) -> None:  # type: ignore[no-untyped-def]
    english = {r.id: r for r in seeds if r.lang == "en"}
    for r in seeds:
        if r.lang == "en":
            assert r.parent_id is None
            continue
        parent = english[r.parent_id]
        assert (r.label, r.category, r.kind, r.split) == (
            parent.label,
            parent.category,
            parent.kind,
            parent.split,
        )
        assert r.text != parent.text


def test_splits_are_fixed_and_roughly_60_20_20(seeds) -> None:  # type: ignore[no-untyped-def]
    assert all(r.split == assign_split(r.parent_id or r.id) for r in seeds)
    en = Counter(r.split for r in seeds if r.lang == "en")
    total = sum(en.values())
    assert 0.5 < en["train"] / total < 0.7
    assert en["validation"] > 0.12 * total and en["test"] > 0.12 * total


def test_texts_are_unique_within_each_language(seeds) -> None:  # type: ignore[no-untyped-def]
    for lang in LANGS:
        texts = [r.text.strip().lower() for r in seeds if r.lang == lang]
        assert len(texts) == len(set(texts)), lang


def test_round_robin_takes_one_language_at_a_time() -> None:
    pool = load_seeds(langs=["de", "en", "zh"], sets=["harmful"], splits=["train"])
    picked = round_robin(pool, 7)
    assert [r.lang for r in picked] == ["de", "en", "zh", "de", "en", "zh", "de"]
    assert len({r.id for r in picked}) == 7
    assert len(round_robin(pool[:2], 10)) == 2  # never more than there is
