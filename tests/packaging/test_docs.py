"""The documentation site renders the plugin's API tables from ``pytest_executorlib/api.py``, their one source."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

from pytest_executorlib import api
from pytest_executorlib.options import SETTINGS

ROOT = Path(__file__).resolve().parents[2]


def _hook() -> ModuleType:
    spec = importlib.util.spec_from_file_location("api_tables", ROOT / "docs" / "hooks" / "api_tables.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_placeholders_become_tables_of_every_public_name() -> None:
    page = "\n\n".join(f"<!-- xlib-api: {name} -->" for name in ("fixtures", "markers", "options"))
    page += "\nv<!-- xlib-api: version -->"
    rendered = _hook().on_page_markdown(page, page=None, config=None, files=None)
    assert "xlib-api" not in rendered
    for name in api.FIXTURES:
        assert f"| `{name}` |" in rendered
    for text in api.PUBLIC_MARKERS.values():
        assert f"| `@pytest.mark.{text.partition(': ')[0]}` |" in rendered
    for setting in SETTINGS:
        assert f"`{setting.env}`" in rendered and setting.help in rendered
    assert rendered.endswith(f"v`{api.API_VERSION}`")


def test_plugin_page_has_no_hand_written_copy_of_the_api_tables() -> None:
    page = (ROOT / "docs" / "plugin.md").read_text()
    for placeholder in ("fixtures", "markers", "options", "version"):
        assert f"<!-- xlib-api: {placeholder} -->" in page
    assert "| Fixture | Scope |" not in page and "| Marker | Effect |" not in page


def test_the_site_lists_every_page_of_docs() -> None:
    nav = (ROOT / "mkdocs.yml").read_text()
    for page in (ROOT / "docs").rglob("*.md"):
        assert str(page.relative_to(ROOT / "docs")) in nav, page


def test_the_start_up_table_is_rendered_from_the_benchmarks_results_file() -> None:
    """The cold/warm figures in docs/performance.md are benchmarks/results/startup.json as benchmarks/startup.py
    renders it (with the load it was measured under): one source, no figure edited by hand."""
    spec = importlib.util.spec_from_file_location("startup_benchmark", ROOT / "benchmarks" / "startup.py")
    assert spec is not None and spec.loader is not None
    startup = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(startup)
    results = json.loads((ROOT / "benchmarks" / "results" / "startup.json").read_text())
    assert set(results["medians_ms"]) == set(startup.CASES) and len(results["load"]) == 2
    assert all({"cold", "cold_cpu", "warm"} <= set(figures) for figures in results["medians_ms"].values())
    assert startup.render(results) in (ROOT / "docs" / "performance.md").read_text()
