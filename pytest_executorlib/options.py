"""Plugin settings: declared once, resolved command line > environment variable > ini file > default.

Each setting is a :class:`Setting` row in :data:`SETTINGS`; :func:`add_options` registers the command line
flag and the ini key of every row, and :func:`resolve` returns the value together with the source that won,
so the report header can say where a value came from (as pytest-django and pytest-timeout do), and an error
about a value names the place the user wrote it (``XLIB_BACKEND=bogus``, not ``--xlib-backend``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

import pytest

from pytest_executorlib.backends import BACKENDS

Kind = Literal["choice", "flag"]

#: Words accepted for a true / false boolean in an environment variable or an ini file.
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


@dataclass(frozen=True)
class Setting:
    """One plugin setting and the three places it can be given."""

    name: str  # attribute name in ``Settings`` and dest of the command line option
    flag: str  # command line option
    env: str  # environment variable
    ini: str  # ini / pyproject key
    default: str | bool
    help: str
    kind: Kind = "choice"
    #: For a flag: the value the command line flag sets (``--xlib-no-cov`` sets ``worker_coverage`` to False).
    flag_value: bool = True
    metavar: str | None = None
    ini_help: str | None = None  # when the ini key reads differently from the flag (--xlib-no-cov)


SETTINGS: tuple[Setting, ...] = (
    Setting(
        name="backend",
        flag="--xlib-backend",
        env="XLIB_BACKEND",
        ini="xlib_backend",
        default="local",
        metavar="NAME",
        help=f"Backend the executor fixtures build executors for: {', '.join(BACKENDS)}",
    ),
    Setting(
        name="impl",
        flag="--xlib-impl",
        env="XLIB_IMPL",
        ini="xlib_impl",
        default="reference",
        metavar="reference|executorlib",
        help="Executor implementation: reference (the executor package) or executorlib",
    ),
    Setting(
        name="keep_cache",
        flag="--xlib-keep-cache",
        env="XLIB_KEEP_CACHE",
        ini="xlib_keep_cache",
        default=False,
        kind="flag",
        help="Keep the cache directories tests create instead of removing them after each test",
    ),
    Setting(
        name="strict_cache",
        flag="--xlib-strict-cache",
        env="XLIB_STRICT_CACHE",
        ini="xlib_strict_cache",
        default=False,
        kind="flag",
        help="Fail the run when a test leaves a cache directory created outside the plugin's fixtures",
    ),
    Setting(
        name="worker_coverage",
        flag="--xlib-no-cov",
        env="XLIB_WORKER_COVERAGE",
        ini="xlib_worker_coverage",
        default=True,
        kind="flag",
        flag_value=False,
        help="Do not measure coverage inside executor worker processes (sets XLIB_WORKER_COVERAGE=0)",
        ini_help="Measure coverage inside executor worker processes (default: true; false sets XLIB_WORKER_COVERAGE=0)",
    ),
    Setting(
        name="mpi_oversubscribe",
        flag="--xlib-mpi-oversubscribe",
        env="XLIB_MPI_OVERSUBSCRIBE",
        ini="xlib_mpi_oversubscribe",
        default=False,
        kind="flag",
        help="Run mpi(ranks=N) tests even when N exceeds the CPU cores available to this process",
    ),
    Setting(
        name="graph",
        flag="--xlib-graph",
        env="XLIB_GRAPH",
        ini="xlib_graph",
        default="",
        metavar="DIR",
        help="Write into DIR, for each test that used the executor fixtures, the graph of its calls with each "
        "call's state and duration (<test>.json, .dot, and .svg when Graphviz is installed)",
    ),
    Setting(
        name="mock_slurm_nodes",
        flag="--xlib-mock-slurm-nodes",
        env="XLIB_MOCK_SLURM_NODES",
        ini="xlib_mock_slurm_nodes",
        default="1",
        metavar="N",
        help="Number of nodes (n1..nN) of the --xlib-backend=mock-slurm session cluster",
    ),
)


@dataclass(frozen=True)
class Resolved:
    """A setting's value and where it came from (shown in the report header)."""

    value: str | bool
    source: str  # "command line", "env XLIB_BACKEND", "ini xlib_backend" or "default"
    #: The setting as the user wrote it, for error messages: "--xlib-backend=bogus", "XLIB_BACKEND=bogus",
    #: "xlib_backend = bogus (ini file)", or the option with its default value.
    given: str = ""

    @property
    def explicit(self) -> bool:
        """True when the value was given (command line, environment or ini), not the default."""
        return self.source != "default"


@dataclass(frozen=True)
class Settings:
    """All resolved settings of one pytest run."""

    backend: Resolved
    impl: Resolved
    keep_cache: Resolved
    strict_cache: Resolved
    worker_coverage: Resolved
    mpi_oversubscribe: Resolved
    graph: Resolved
    mock_slurm_nodes: Resolved

    def any_explicit(self) -> bool:
        """True when at least one setting was given on the command line, in the environment or the ini file."""
        return any(getattr(self, setting.name).explicit for setting in SETTINGS)


def add_options(parser: pytest.Parser) -> None:
    """Register the ``xlib`` option group and the ini keys of every setting."""
    group = parser.getgroup("xlib", "executorlib executors (pytest-executorlib)")
    for setting in SETTINGS:
        if setting.kind == "flag":
            group.addoption(
                setting.flag,
                action="store_const",
                const=setting.flag_value,
                default=None,
                dest=f"xlib_{setting.name}",
                help=f"{setting.help} (env: {setting.env}; ini: {setting.ini})",
            )
            parser.addini(setting.ini, setting.ini_help or setting.help, type="bool", default=None)
        else:
            group.addoption(
                setting.flag,
                action="store",
                default=None,
                dest=f"xlib_{setting.name}",
                metavar=setting.metavar,
                help=f"{setting.help} (default: {setting.default}; env: {setting.env}; ini: {setting.ini})",
            )
            parser.addini(setting.ini, setting.ini_help or setting.help, type="string", default=None)


def _parse_bool(text: str, where: str) -> bool:
    word = text.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise pytest.UsageError(f"{where}: expected a boolean (1/0, true/false, yes/no, on/off), got {text!r}")


def _resolve_one(config: pytest.Config, setting: Setting) -> Resolved:
    cli = config.getoption(f"xlib_{setting.name}")
    if cli is not None:
        return Resolved(cli, "command line", setting.flag if setting.kind == "flag" else f"{setting.flag}={cli}")
    env = os.environ.get(setting.env)
    if env is not None and (setting.kind == "flag" or env.strip()):
        where = f"env {setting.env}"
        value = _parse_bool(env, where) if setting.kind == "flag" else env.strip()
        return Resolved(value, where, f"{setting.env}={env.strip()}")
    ini = config.getini(setting.ini)
    where = f"ini {setting.ini}"
    # pytest < 9 returns "" or [] for an unset key whose default is None; pytest >= 9 returns None.
    if setting.kind == "flag":
        if isinstance(ini, bool):
            return Resolved(ini, where, f"{setting.ini} = {str(ini).lower()} (ini file)")
        if isinstance(ini, str) and ini:
            return Resolved(_parse_bool(ini, where), where, f"{setting.ini} = {ini} (ini file)")
    elif isinstance(ini, str) and ini.strip():
        return Resolved(ini.strip(), where, f"{setting.ini} = {ini.strip()} (ini file)")
    default = setting.flag if setting.kind == "flag" else f"{setting.flag}={setting.default}"
    return Resolved(setting.default, "default", f"{default} (default)")


def resolve_setting(config: pytest.Config, name: str) -> Resolved:
    """One setting by its name (``"mock_slurm_nodes"``), resolved like :func:`resolve` does."""
    return _resolve_one(config, next(s for s in SETTINGS if s.name == name))


def resolve(config: pytest.Config) -> Settings:
    """Resolve every setting: command line > environment variable > ini > default."""
    return Settings(**{setting.name: _resolve_one(config, setting) for setting in SETTINGS})
