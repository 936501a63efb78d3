"""The public API list (pytest_executorlib.api) matches what the plugin really provides."""

from __future__ import annotations

import pytest

from pytest_executorlib import API_VERSION, api


def test_listed_fixtures_markers_and_options_exist(pytester: pytest.Pytester, run) -> None:
    assert API_VERSION == api.API_VERSION and API_VERSION.count(".") == 1
    fixtures = run("--fixtures")
    assert fixtures.ret == 0
    for name, (scope, _type, _what) in api.FIXTURES.items():
        scope_text = "" if scope == "function" else f" [[]{scope} scope[]]"
        fixtures.stdout.fnmatch_lines([f"{name}{scope_text} -- *pytest_executorlib*fixtures.py:*"])

    markers = run("--markers")
    for name in api.PUBLIC_MARKERS:
        markers.stdout.fnmatch_lines([f"@pytest.mark.{name}*"])

    helptext = run("--help").stdout.str()
    for flag, (env, ini, _default) in api.OPTIONS.items():
        assert flag in helptext and env in helptext and f"{ini} (" in helptext
