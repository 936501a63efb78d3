"""MkDocs hook: render the plugin's public API tables from ``pytest_executorlib/api.py`` (their one source).

A page writes ``<!-- xlib-api: fixtures -->`` (or ``markers``, ``options``, ``version``) where a table (or the
API version) belongs; this hook replaces the comment when the site is built.  Read on GitHub, the page shows a
sentence saying where the table lives instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from pytest_executorlib import api
from pytest_executorlib.options import SETTINGS

_PLACEHOLDER = re.compile(r"<!-- xlib-api: (\w+) -->")


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|")


def _default(value: str | bool) -> str:
    return str(value).lower() if isinstance(value, bool) else f"`{value}`"


def fixtures_table() -> str:
    rows = ["| Fixture | Scope | Type | What the test gets |", "|---|---|---|---|"]
    for name, (scope, kind, what) in api.FIXTURES.items():
        rows.append(f"| `{name}` | {scope} | `{kind}` | {_cell(what)} |")
    return "\n".join(rows)


def markers_table() -> str:
    rows = ["| Marker | Effect |", "|---|---|"]
    for text in api.PUBLIC_MARKERS.values():
        signature, _, effect = text.partition(": ")
        rows.append(f"| `@pytest.mark.{signature}` | {_cell(effect)} |")
    return "\n".join(rows)


def options_table() -> str:
    rows = ["| Command line | Environment | ini key | Default | Meaning |", "|---|---|---|---|---|"]
    helps = {s.flag: s for s in SETTINGS}
    for flag, (env, ini, default) in api.OPTIONS.items():
        setting = helps[flag]
        shown = f"{flag}={setting.metavar}" if setting.metavar else flag
        # A `|` inside a code span is literal in Python-Markdown tables: no escaping there.
        rows.append(f"| `{shown}` | `{env}` | `{ini}` | {_default(default)} | {_cell(setting.help)} |")
    return "\n".join(rows)


def version() -> str:
    return f"`{api.API_VERSION}`"


_RENDER: dict[str, Callable[[], str]] = {
    "fixtures": fixtures_table,
    "markers": markers_table,
    "options": options_table,
    "version": version,
}


def on_page_markdown(markdown: str, **_: Any) -> str:
    def render(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in _RENDER:
            raise ValueError(f"unknown placeholder <!-- xlib-api: {name} -->; known: {', '.join(_RENDER)}")
        return _RENDER[name]()

    return _PLACEHOLDER.sub(render, markdown)
