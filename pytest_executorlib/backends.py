"""The backend table: one row per ``--xlib-backend`` value, and how each row builds an executor.

A backend is "which executor class, from which implementation, with what around it":

* ``executor_class`` is looked up on the implementation package (``executor`` for ``--xlib-impl=reference``,
  ``executorlib`` for ``--xlib-impl=executorlib``), so both implementations get the same fixtures;
* ``module`` (optional) is a module the backend needs, e.g. the mock SLURM of a later issue.  While it does
  not exist, selecting the backend is a usage error saying it is not available yet.  If the module defines
  ``backend_session(config) -> contextlib.AbstractContextManager[None]``, the plugin enters it for the whole
  session (a mock puts its fake ``srun`` on ``PATH`` there);
* ``command`` (optional) is a program that must be on ``PATH`` once the session is set up (``srun``, ``flux``);
* ``probe`` (optional) asks the system whether it answers, once the session is set up: for ``slurm``,
  ``sinfo`` must answer within :data:`~pytest_executorlib.slurm_probe.SINFO_TIMEOUT` seconds, because an
  ``srun`` on ``PATH`` proves nothing (Debian's unconfigured ``slurm-client`` has one that fails or hangs).
  A backend whose probe says no is a usage error quoting what the probe saw.

Adding a backend is adding one row to :data:`BACKENDS`.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Literal

import pytest

from pytest_executorlib.slurm_probe import SinfoAnswer, probe_sinfo

Family = Literal["local", "slurm", "flux"]


@dataclass(frozen=True)
class Backend:
    """One ``--xlib-backend`` value."""

    name: str
    executor_class: str  # attribute of the implementation package
    family: Family  # what the ``slurm`` / ``flux`` markers test for
    module: str | None = None  # module the backend needs; missing -> "not available yet"
    command: str | None = None  # program that must be on PATH during the session
    probe: Callable[[], SinfoAnswer] | None = None  # "does it answer?", asked when the session starts


BACKENDS: dict[str, Backend] = {
    b.name: b
    for b in (
        Backend("local", "SingleNodeExecutor", "local"),
        Backend("mock-slurm", "SlurmJobExecutor", "slurm", module="pytest_executorlib.mocks.slurm", command="srun"),
        Backend("mock-flux", "FluxJobExecutor", "flux", module="pytest_executorlib.mocks.flux", command="flux"),
        # a real SLURM (inside an allocation, or a login node): selectable only when sinfo answers
        Backend("slurm", "SlurmJobExecutor", "slurm", command="srun", probe=probe_sinfo),
        Backend("flux", "FluxJobExecutor", "flux", module="flux"),  # inside a flux instance (flux bindings)
    )
}

#: ``--xlib-impl`` value -> importable package providing executorlib's public names.
IMPLEMENTATIONS: dict[str, str] = {"reference": "executor", "executorlib": "executorlib"}


def _module_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # a missing parent package raises ModuleNotFoundError
        return False


def _usable(backend: Backend) -> bool:
    """Best guess, before the session starts, whether ``backend`` can be selected on this machine."""
    if backend.module is not None:
        return _module_exists(backend.module)  # the module may provide the command (a mock srun)
    if backend.command is not None and shutil.which(backend.command) is None:
        return False
    return backend.probe is None or backend.probe().ok


def get_backend(name: str, given: str | None = None) -> Backend:
    """Return the table row for ``name``; an unknown name is a usage error listing the valid ones.

    ``given`` (here and below) is the setting as the user wrote it (``XLIB_BACKEND=bogus``), named in errors.
    """
    try:
        return BACKENDS[name]
    except KeyError:
        valid = ", ".join(BACKENDS)
        where = given or f"--xlib-backend={name}"
        raise pytest.UsageError(f"{where}: unknown backend {name!r}; valid backends: {valid}") from None


def check_implementation(impl: str, given: str | None = None) -> str:
    """Return the package name of ``impl``; unknown or not installed is a usage error."""
    where = given or f"--xlib-impl={impl}"
    try:
        package = IMPLEMENTATIONS[impl]
    except KeyError:
        valid = ", ".join(IMPLEMENTATIONS)
        raise pytest.UsageError(f"{where}: unknown implementation {impl!r}; valid: {valid}") from None
    if not _module_exists(package):
        raise pytest.UsageError(f"{where}: package {package!r} is not installed")
    return package


def check_available(backend: Backend, given: str | None = None) -> None:
    """Raise a usage error when the backend's module does not exist (yet)."""
    if backend.module is not None and not _module_exists(backend.module):
        available = ", ".join(b.name for b in BACKENDS.values() if _usable(b))
        if backend.module.startswith("pytest_executorlib."):
            problem = f"is not available yet (module {backend.module} does not exist)"
        else:
            problem = f"needs the Python module {backend.module!r}, which is not installed"
        where = given or f"--xlib-backend={backend.name}"
        raise pytest.UsageError(f"{where}: backend {backend.name!r} {problem}; available backends: {available}")


@contextlib.contextmanager
def backend_session(backend: Backend, config: pytest.Config, given: str | None = None) -> Iterator[None]:
    """Set up what the backend needs for the whole session (its module's ``backend_session``, if any)."""
    with contextlib.ExitStack() as stack:
        if backend.module is not None:
            module: ModuleType = importlib.import_module(backend.module)
            hook = getattr(module, "backend_session", None)
            if hook is not None:
                stack.enter_context(hook(config))
        if backend.command is not None and shutil.which(backend.command) is None:
            available = ", ".join(b.name for b in BACKENDS.values() if _usable(b))
            raise pytest.UsageError(
                f"{given or f'--xlib-backend={backend.name}'}: backend {backend.name!r} needs the program "
                f"{backend.command!r} on PATH; available backends: {available}"
            )
        if backend.probe is not None:
            answer = backend.probe()
            if not answer.ok:
                available = ", ".join(b.name for b in BACKENDS.values() if b is not backend and _usable(b))
                raise pytest.UsageError(
                    f"--xlib-backend={backend.name}: SLURM does not answer here ({answer.detail}); run inside a "
                    f"SLURM cluster (set SLURM_CONF if its slurm.conf is not /etc/slurm/slurm.conf); "
                    f"available backends: {available}"
                )
        yield


def executor_class(backend: Backend, impl: str) -> Any:
    """Import and return the executor class of ``backend`` in implementation ``impl``.

    Called lazily (by the fixtures), so a session that never asks for an executor does not import one.
    """
    __tracebackhide__ = True
    package = IMPLEMENTATIONS[impl]
    try:
        return getattr(importlib.import_module(package), backend.executor_class)
    except (ImportError, AttributeError) as exc:
        problem = f"{type(exc).__name__}: {exc}"
    pytest.fail(
        f"xlib: cannot import {package}.{backend.executor_class} for backend {backend.name!r} "
        f"(--xlib-impl={impl}): {problem}",
        pytrace=False,
    )


def implementation_version(impl: str) -> str:
    """Version string of the implementation, without importing its executors."""
    package = IMPLEMENTATIONS[impl]
    try:
        return str(importlib.import_module(package).__version__)
    except Exception:
        return "unknown version"
