"""`supil search`: hits with highlighted snippets from a workspace's index, clear errors otherwise."""

from __future__ import annotations

from typer.testing import CliRunner

from supil.cli import app


def test_search_prints_hits_with_snippets(indexed) -> None:
    store, _ = indexed
    result = CliRunner().invoke(
        app, ["search", "바다 여행", "--index", "essays", "-k", "2", "-w", str(store.root)]
    )
    assert result.exit_code == 0, result.output
    assert "2 of" in result.output and "sea-" in result.output and "바다" in result.output


def test_search_reports_bad_input(indexed) -> None:
    store, _ = indexed
    result = CliRunner().invoke(app, ["search", "희망", "--index", "nope", "-w", str(store.root)])
    assert result.exit_code == 1 and "index 'nope' not found" in result.output
    result = CliRunner().invoke(
        app, ["search", "희망", "--index", "essays", "-k", "0", "-w", str(store.root)]
    )
    assert result.exit_code == 1 and "k must be positive" in result.output
    result = CliRunner().invoke(
        app, ["search", "희망", "--index", "essays", "-k", "-3", "-w", str(store.root)]
    )
    assert result.exit_code == 1 and "k must be positive" in result.output
