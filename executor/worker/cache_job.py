"""The batch job of a cluster executor: ``python -m executor.worker.cache_job [--mpi] <dir>/<key>_i.h5``.

Layer: worker (imports cache, coverage).  executorlib's file protocol, step by step, so that either library's
executor can wait for either library's job:

1. read ``function``, ``input_args``, ``input_kwargs`` from ``<key>_i.h5`` (ours or executorlib's file);
   inputs that are other calls' results are references to their ``<key>_o.h5`` (``OutputRef``, or executorlib's
   ``FutureItem``), read now -- the queue started this job after its parents, so the files are there (a few
   retries cover a shared file system that shows them late); a parent's stored error is raised here and
   becomes this call's error;
2. run the call, timing it;
3. rename ``_i.h5`` to ``_r.h5``, write every input dataset plus ``output`` (or ``error``) and ``runtime`` into
   it (atomically: readers never see half a file), rename ``_r.h5`` to ``_o.h5``.

With ``--mpi`` (``srun -n N`` / ``flux run -n N``) every rank runs the call and rank 0 writes the list of the
ranks' results, as executorlib's ``cache_parallel.py`` does.  Coverage starts first when the parent is measured
(``XLIB_COVERAGE_CONFIG`` in the environment the queue exported).
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

INPUT_NAMES = ("function", "input_args", "input_kwargs", "resource_dict", "queue_id", "error_log_file")
_RETRIES = 20
_RETRY_DELAY = 0.1


class OutputRef:
    """A call's input that is another call's result: the other call's ``_o.h5`` and an optional selector."""

    def __init__(self, file_name: str, selector: int | str | None = None) -> None:
        self.file_name = file_name
        self.selector = selector

    def __repr__(self) -> str:
        return f"OutputRef({self.file_name!r}, {self.selector!r})"

    def result(self) -> Any:
        from executor.cache import store

        for attempt in range(_RETRIES):
            try:
                content = store.read_file(self.file_name, ("output", "error"))
                break
            except FileNotFoundError:
                if attempt == _RETRIES - 1:
                    raise FileNotFoundError(f"the result of an input of this call, {self.file_name}, does not exist") from None
                time.sleep(_RETRY_DELAY)
        if "error" in content.datasets:
            raise content.load("error")
        value = content.load("output")
        return value if self.selector is None else value[self.selector]


def _resolve(value: Any) -> Any:
    if isinstance(value, OutputRef):
        return value.result()
    # executorlib's FutureItem (its jobs' files), recognised without importing executorlib
    if type(value).__name__ == "FutureItem" and hasattr(value, "_file_name"):
        return OutputRef(value._file_name, getattr(value, "_selector", None)).result()
    return value


def run_file(file_name: str, comm: Any = None) -> None:
    """Run the call of ``file_name`` (an ``_i.h5``) and leave its ``_o.h5``."""
    from executor.cache import store

    content = store.read_file(file_name, INPUT_NAMES)
    started = time.time()
    try:
        fn = content.load("function")
        args = [_resolve(a) for a in (content.load("input_args") if "input_args" in content.datasets else ())]
        kwargs = {k: _resolve(v) for k, v in (content.load("input_kwargs") if "input_kwargs" in content.datasets else {}).items()}
        outcome: tuple[str, Any] = ("output", fn(*args, **kwargs))
    except Exception as error:
        outcome = ("error", error)
    if comm is not None:
        gathered = comm.gather(outcome, root=0)
        if comm.Get_rank() != 0:
            return
        errors = [o for o in gathered if o[0] == "error"]
        outcome = errors[0] if errors else ("output", [o[1] for o in gathered])
    runtime = time.time() - started
    if outcome[0] == "error" and "error_log_file" in content.datasets:
        _log_error(content, outcome[1])
    datasets = dict(content.datasets)
    try:
        datasets[outcome[0]] = store.pickle_value(outcome[1])
    except Exception as error:  # a result that cannot be pickled: the call fails with that, never hangs
        datasets["error"] = store.pickle_value(TypeError(f"the result of this call cannot be pickled: {error!r}"))
    datasets["runtime"] = store.pickle_value(runtime)
    stem = file_name[: -len("_i.h5")]
    os.rename(file_name, stem + "_r.h5")
    store.write_file(stem + "_r.h5", datasets, content.meta.get("function"))
    os.rename(stem + "_r.h5", stem + "_o.h5")


def _log_error(content: Any, error: BaseException) -> None:
    try:
        from executor.tasks.error_log import log_failure

        log_failure(content.load("error_log_file"), getattr(content.load("function"), "__name__", "call"), content.datasets.get("function", b""), error)
    except Exception:  # the log is a convenience; the error itself is stored in the output file
        pass


def main(argv: list[str]) -> int:
    try:
        from executor.coverage.worker import start_from_environment
    except ImportError:
        pass
    else:
        start_from_environment()
    mpi = "--mpi" in argv
    files = [a for a in argv if a != "--mpi"]
    if len(files) != 1 or not files[0].endswith("_i.h5"):
        sys.stderr.write("usage: python -m executor.worker.cache_job [--mpi] <cache dir>/<key>_i.h5\n")
        return 2
    comm = None
    if mpi:
        from mpi4py import MPI

        comm = MPI.COMM_WORLD
    run_file(os.path.abspath(files[0]), comm)
    return 0


if __name__ == "__main__":
    # Run the imported module's main, not this __main__ copy: OutputRef in the input file is the module's class.
    from executor.worker.cache_job import main as module_main

    sys.exit(module_main(sys.argv[1:]))
