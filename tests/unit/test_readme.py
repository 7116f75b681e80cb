"""The README's configuration table is the one the settings classes make."""

from __future__ import annotations

from pathlib import Path

from signpost.configdoc import config_table

README = Path(__file__).parents[2] / "README.md"


def test_readme_config_table_is_current() -> None:
    text = README.read_text(encoding="utf-8")
    start = text.index("<!-- config-table:start -->\n") + len("<!-- config-table:start -->\n")
    end = text.index("<!-- config-table:end -->")
    assert text[start:end] == config_table(), "run `signpost config-doc` and paste it"


def test_readme_names_the_two_setup_commands() -> None:
    text = README.read_text(encoding="utf-8")
    assert "pip install -e . && signpost dev" in text
    assert "bash .ci/run" in text
