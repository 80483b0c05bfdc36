"""The settings' documentation is made from the settings themselves."""

from __future__ import annotations

from pathlib import Path

from indexer.settings import Settings, configuration_table

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_readme_holds_the_settings_table_as_made():
    """Run `python -c "from indexer.settings import configuration_table as c; print(c())"` and
    paste its output into the README's Configuration section when this fails."""
    text = README.read_text(encoding="utf-8")
    start = text.index("tests/test_settings.py checks it -->\n") + len(
        "tests/test_settings.py checks it -->\n"
    )
    end = text.index("\n<!-- end of the settings table -->")
    assert text[start:end] == configuration_table()


def test_every_setting_is_described():
    assert all(field.description for field in Settings.model_fields.values())
