"""``ClusterExecutor``: the shared front end of ``SlurmClusterExecutor`` and ``FluxClusterExecutor``.

Layer: frontends.  Each call becomes one batch job (through pysqa, ``executor.spawners.pysqa``) that reads its
inputs from ``<cache_directory>/<key>_i.h5`` and leaves ``<key>_o.h5`` (``executor.worker.cache_job``); the
scheduler (``executor.schedulers.files``) turns futures of this executor passed as arguments into queue
dependencies.  Parameters are checked here, in the caller's thread, with executorlib's rules: resource keys the
executor does not know (``partition``, ``memory_max``, ``queue``, ``submission_template``, ...) are passed on to
pysqa's template with a warning, as executorlib does.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from executor.coverage.parent import launcher_environment, measure_workers
from executor.frontends.base import BaseExecutor, _name
from executor.schedulers.files import FileCall, FileScheduler
from executor.spawners.pysqa import QueueAdapter, import_pysqa
from executor.tasks.resources import CHECKS, DEFAULTS
from executor.tasks.signature import accepted_names

_KNOWN_EXTRA = ("partition", "memory_max", "queue", "submission_template", "job_name")


class ClusterExecutor(BaseExecutor):
    """One batch job per call; see the module docstring and docs/cluster.md."""

    backend = "slurm"

    def __init__(
        self,
        max_workers: int | None = None,
        cache_directory: str | None = None,
        max_cores: int | None = None,
        resource_dict: dict[str, Any] | None = None,
        pysqa_config_directory: str | None = None,
        pmi_mode: str | None = None,
        hostname_localhost: bool | None = None,
        block_allocation: bool = False,
        init_function: Callable[[], dict[str, Any]] | None = None,
        disable_dependencies: bool = False,
        refresh_rate: float = 0.01,
        plot_dependency_graph: bool = False,
        plot_dependency_graph_filename: str | None = None,
        export_workflow_filename: str | None = None,
        log_obj_size: bool = False,
        wait: bool = True,
        openmpi_oversubscribe: bool = False,
        worker_coverage: bool | None = None,
    ) -> None:
        name = type(self).__name__
        import_pysqa()  # the 'cluster' extra: fails here, at construction, naming it
        if log_obj_size:
            raise ValueError(f"log_obj_size is not supported by {name} (results travel through files)")
        if block_allocation:
            raise ValueError(
                f"{name}(block_allocation=True) (one batch job per worker) is not implemented yet; "
                "use block_allocation=False (one batch job per call)"
            )
        for what, value in (("max_workers", max_workers), ("max_cores", max_cores), ("hostname_localhost", hostname_localhost), ("init_function", init_function)):
            if value is not None:
                raise ValueError(f"{what} needs block_allocation=True in {name} (each call is its own batch job)")
        if pmi_mode is not None and not isinstance(pmi_mode, str):
            raise TypeError(f"pmi_mode must be None or a str such as 'pmi2', got {pmi_mode!r}")
        self._defaults = self._merge(dict(DEFAULTS), resource_dict, stacklevel=3)
        if openmpi_oversubscribe:
            self._defaults["openmpi_oversubscribe"] = True
        self._directory = os.path.abspath(cache_directory or "executorlib_cache")
        if " " in self._directory:
            raise ValueError(f"pysqa cannot submit jobs from a directory with spaces: cache_directory={self._directory!r}")
        self._pmi_mode = pmi_mode
        measurement = measure_workers(worker_coverage)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p or os.getcwd() for p in sys.path)}
        env.update(launcher_environment(None if measurement is None else measurement.spec))
        adapter = QueueAdapter(self.backend, pysqa_config_directory, env)
        scheduler = FileScheduler(adapter, self._command, wait)
        info = {
            "cache_directory": self._directory,
            "pysqa_config_directory": pysqa_config_directory,
            "pmi_mode": pmi_mode,
            "block_allocation": block_allocation,
            "refresh_rate": refresh_rate,
            "wait": wait,
            **self._defaults,
        }
        super().__init__(
            scheduler,  # type: ignore[arg-type]
            None,  # type: ignore[arg-type]  # resources are merged by _merge
            disable_dependencies=disable_dependencies,
            info=info,
            plot_dependency_graph=plot_dependency_graph,
            plot_dependency_graph_filename=plot_dependency_graph_filename,
            export_workflow_filename=export_workflow_filename,
        )
        self._files: FileScheduler = scheduler

    def _merge(self, base: dict[str, Any], resource_dict: dict[str, Any] | None, stacklevel: int) -> dict[str, Any]:
        if resource_dict is None:
            return base
        if not isinstance(resource_dict, dict):
            raise TypeError(f"resource_dict must be a dict, got {type(resource_dict).__name__}")
        unknown = [k for k in resource_dict if k not in CHECKS and k not in _KNOWN_EXTRA]
        if unknown:
            warnings.warn(f"The following keys are not recognized and cannot be validated: {unknown}", UserWarning, stacklevel=stacklevel)
        for key, value in resource_dict.items():
            if key in CHECKS:
                CHECKS[key](key, value)
        merged = {**base, **resource_dict}
        for key in ("cwd", "cache_directory", "error_log_file"):
            if merged.get(key):
                merged[key] = os.path.abspath(merged[key])
        return merged

    def _command(self, file_name: str, resources: dict[str, Any]) -> str:
        """The job's command line (pysqa puts it, space-joined, in its template)."""
        worker = [sys.executable, "-m", "executor.worker.cache_job"]
        cores = int(resources.get("cores", 1))
        if cores == 1:
            return " ".join([*worker, file_name])
        return " ".join([*self._parallel_prefix(cores, resources), *worker, "--mpi", file_name])

    def _parallel_prefix(self, cores: int, resources: dict[str, Any]) -> list[str]:
        raise NotImplementedError

    def _submit(self, fn: Callable[..., Any], args: tuple[Any, ...], resource_dict: dict[str, Any] | None, kwargs: dict[str, Any]) -> Future[Any]:
        """``fn(*args, **kwargs)`` as one batch job; Futures of this executor among the arguments become queue
        dependencies."""
        if self._closed or (self._graph is None and not self._files.accepting):
            raise RuntimeError("cannot schedule new futures after shutdown")
        if not callable(fn):
            raise TypeError(f"submit() needs a callable as its first argument, got {fn!r}")
        if "resource_dict" in accepted_names(fn):
            raise ValueError(f"{_name(fn)}() has a parameter named 'resource_dict', which the executor reserves; rename the parameter")
        resources = self._merge(self._defaults, resource_dict, stacklevel=4)
        if self._graph is not None:
            return self._graph.submit(fn, args, kwargs)
        future: Future[Any] = Future()
        if self._disable_dependencies and any(isinstance(a, Future) for a in [*args, *kwargs.values()]):
            raise ValueError(
                "this executor was built with disable_dependencies=True, so Future objects cannot be arguments; "
                f"got Future(s) in the arguments of {_name(fn)}()"
            )
        directory = resources.pop("cache_directory", None) or self._directory
        call = FileCall(
            future, fn, list(args), dict(kwargs),
            {k: v for k, v in resources.items() if k not in ("cache_key", "error_log_file")},
            directory, resources.get("cache_key"), resources.get("error_log_file"),
        )  # fmt: skip
        if self._calls is not None:
            self._calls.add(future, fn, args, kwargs)
        self._files.submit(call)
        return future
