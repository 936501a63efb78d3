"""What a user installing the package relies on: its metadata, its extras and copy-pasteable install hints."""

from __future__ import annotations

import re
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pytest itself depends on tomli before Python 3.11
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
TEST_TOOLS = {"pytest-xdist", "pytest-timeout", "hypothesis", "pytest-cov", "executorlib"}


def _names(requirements: list[str]) -> set[str]:
    return {re.split(r"[<>=!~;\[ ]", r, maxsplit=1)[0] for r in requirements}


def _expand(extra: str) -> set[str]:
    """Every distribution an extra installs, following self-references such as pytest-executorlib[mpi,cache]."""
    names: set[str] = set()
    for requirement in PROJECT["optional-dependencies"][extra]:
        own = re.fullmatch(r"pytest-executorlib\[([\w,]+)\]", requirement)
        names |= set().union(*map(_expand, own.group(1).split(","))) if own else _names([requirement])
    return names


def test_license_is_an_spdx_expression_with_its_file() -> None:
    assert PROJECT["license"] == "BSD-3-Clause"
    assert PROJECT["license-files"] == ["LICENSE"]
    assert "BSD 3-Clause License" in (ROOT / "LICENSE").read_text()


def test_pytest_is_a_runtime_dependency_of_the_pytest11_plugin() -> None:
    assert "pytest11" in PROJECT["entry-points"]
    assert "pytest" in _names(PROJECT["dependencies"])


def test_all_extra_brings_every_user_extra_and_no_test_tool() -> None:
    user_extras = ("mpi", "cache", "cluster", "graph")
    everything = _expand("all")
    for extra in user_extras:
        assert _expand(extra) <= everything, extra
    assert not everything & TEST_TOOLS
    assert TEST_TOOLS <= _expand("test")


def test_classifiers_name_each_supported_python_version() -> None:
    classifiers = set(PROJECT["classifiers"])
    assert PROJECT["requires-python"] == ">=3.10"
    for minor in (10, 11, 12, 13):
        assert f"Programming Language :: Python :: 3.{minor}" in classifiers
    assert "Framework :: Pytest" in classifiers


def test_install_hints_are_quoted_for_zsh() -> None:
    """An unquoted ``pytest-executorlib[mpi]`` after ``pip install`` fails in zsh (``[...]`` is a glob): every
    hint we print or document is quoted."""
    unquoted = re.compile(r"pip install (-e )?[^'\"\s]*\[")
    files = [ROOT / "README.md", ROOT / "CHANGELOG.md", *ROOT.glob("docs/**/*.md")]
    for package in ("executor", "pytest_executorlib", "tests", "ci", "benchmarks"):
        files += [*(ROOT / package).rglob("*.py"), *(ROOT / package).rglob("*.sh")]
    offenders = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in files
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if unquoted.search(line)
    ]
    assert not offenders, "\n".join(offenders)


def test_readme_opens_with_the_two_commands_then_install_for_users() -> None:
    readme = (ROOT / "README.md").read_text()
    first_block = readme.split("```bash\n", 1)[1].split("```", 1)[0]
    assert [line.split()[:2] for line in first_block.splitlines()] == [
        ["bash", "ci/main-job.sh"],
        ["bash", "ci/test-suite.sh"],
    ]
    assert re.findall(r"^## .*", readme, flags=re.MULTILINE)[0] == "## Install"
    assert "pip install 'pytest-executorlib[all]'" in readme
