"""The essay spec: examples validate; malformed specs list every bad field with its path."""

from __future__ import annotations

from pathlib import Path

import pytest

from supil.spec import SpecError, load_spec, parse_spec

EXAMPLES = Path(__file__).resolve().parent.parent.parent / "examples"

GOOD = """
[essay]
name = "t"
title = "제목"
theme = "함께"
target_chars = 1000

[[sections]]
title = "하나"
query = "희망과 함께"
prompt = "시작."
chars = 400

[[sections]]
title = "둘"
query = "우울과 함께"
prompt = "시작."

[[sections]]
title = "셋"
query = "우울과 함께"
prompt = "시작."
"""


@pytest.mark.parametrize("name", ["demo.toml", "bookathon3.toml"])
def test_examples_are_valid(name: str) -> None:
    spec = load_spec(EXAMPLES / name)
    assert sum(spec.section_targets()) == spec.essay.target_chars


def test_bookathon3_is_the_2021_brief() -> None:
    spec = load_spec(EXAMPLES / "bookathon3.toml")
    assert spec.essay.theme == "함께" and spec.essay.target_chars == 20000
    assert [s.query for s in spec.sections] == [
        "함께라는 것은",
        "희망과 함께",
        "우울과 함께",
        "불안과 함께",
        "죽음과 공존",
        "자아와 함께",
        "행복한 추억",
    ]
    assert (spec.model.freeze_layers, spec.model.gradient_accumulation, spec.model.block_size) == (
        12,
        32,
        128,
    )


def test_targets_share_out_the_rest() -> None:
    spec = parse_spec(GOOD)
    assert spec.section_targets() == [400, 300, 300]
    assert spec.generate.top_k == 30 and spec.generate.repetition_penalty == 2.0


def problems(text: str) -> dict[str, str]:
    with pytest.raises(SpecError) as info:
        parse_spec(text)
    return dict(info.value.problems)


def test_every_bad_field_is_listed_with_its_path() -> None:
    bad = GOOD.replace('name = "t"', 'name = "../escape"').replace("target_chars = 1000", "target_chars = 0")
    bad = bad.replace('prompt = "시작."\nchars = 400', 'prompt = ""\nchars = -1')
    bad += '\n[generate]\ntop_p = 0\nseed = "x"\ncolour = "blue"\n'
    bad += (
        '\n[[crawl.sites]]\nname = "s"\nstart_urls = ["ftp://example.org/"]\nfollow_pattern = "(unclosed"\n'
    )
    found = problems(bad)
    assert set(found) == {
        "essay.name",
        "essay.target_chars",
        "sections[0].prompt",
        "sections[0].chars",
        "generate.top_p",
        "generate.seed",
        "generate.colour",
        "crawl.sites[0].start_urls",
        "crawl.sites[0].follow_pattern",
    }
    assert found["generate.colour"] == "unknown field (check the spelling)"
    assert "regular expression" in found["crawl.sites[0].follow_pattern"]


def test_cross_field_rules() -> None:
    over = GOOD.replace("chars = 400", "chars = 1400")
    assert "more than essay.target_chars" in problems(over)["(spec)"]
    both = GOOD + "\n[model]\nlora = true\nfreeze_layers = 12\n"
    assert "not both" in problems(both)["model"]
    assert (
        "Field required"
        in problems('[essay]\nname = "t"\ntitle = "x"\ntheme = "y"\ntarget_chars = 5\n')["sections"]
    )


def test_toml_syntax_and_file_errors(tmp_path: Path) -> None:
    assert "(toml)" in problems("[essay\nname=")
    with pytest.raises(SpecError) as info:
        load_spec(tmp_path / "missing.toml")
    assert info.value.problems == [("(file)", "no such file")]


def test_site_profile_fields_reach_the_crawl_request() -> None:
    from supil.orchestrator import crawl_request

    text = (
        GOOD
        + """
[[crawl.sites]]
name = "blog"
start_urls = ["https://blog.example.org/"]
min_text_chars = 300
min_hangul_ratio = 0.6

[[crawl.sites.json_listings]]
url_template = "https://blog.example.org/api/list?page={page}"
items_path = "data.items"
url_field = "link"
max_pages = 7
"""
    )
    request = crawl_request(parse_spec(text), "job-1", "jobs/t/raw.jsonl.zst")
    assert not request.http_cache
    site = request.sites[0]
    assert (site.min_text_chars, round(site.min_hangul_ratio, 2)) == (300, 0.6)
    listing = site.json_listings[0]
    assert (
        listing.url_template,
        listing.items_path,
        listing.url_field,
        listing.first_page,
        listing.max_pages,
    ) == (
        "https://blog.example.org/api/list?page={page}",
        "data.items",
        "link",
        1,
        7,
    )
    assert site.politeness.obey_robots_txt is True
    bad = text.replace("?page={page}", "")
    assert "needs a {page} placeholder" in problems(bad)["crawl.sites[0].json_listings[0].url_template"]


def test_http_cache_reaches_the_crawl_request() -> None:
    from supil.orchestrator import crawl_request

    text = GOOD.replace("[essay]", "[crawl]\nhttp_cache = true\n\n[essay]", 1)
    spec = parse_spec(text + '\n[[crawl.sites]]\nname = "blog"\nstart_urls = ["https://blog.example.org/"]\n')
    assert crawl_request(spec, "job-1", "jobs/t/raw.jsonl.zst").http_cache
