"""``BaseExecutor``: the ``concurrent.futures.Executor`` API on top of a scheduler.

Everything that can be wrong with a call (resources, pickling, a ``resource_dict`` parameter) is checked here,
in the caller's thread, so the error is raised where the user called ``submit()``.  Calls whose arguments
contain unfinished futures wait on done-callbacks (no thread, no polling) and are queued when their inputs are
done; a failed input fails the call without running it.
"""

from __future__ import annotations

import os
import sys
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future
from typing import TYPE_CHECKING, Any

from executor import telemetry
from executor.frontends.arguments import positive_or_none
from executor.frontends.live import live
from executor.schedulers.results import fail
from executor.tasks import dependencies
from executor.tasks.batched import batched, in_order
from executor.tasks.resources import ResourcePolicy, cost
from executor.tasks.serialize import dumps_call
from executor.tasks.signature import accepted_names
from executor.tasks.task import CacheEntry, Task

if TYPE_CHECKING:  # the scheduler modules are imported by the subclass, after it started its workers' template
    from executor.graph import CallLog, PlotMode
    from executor.schedulers.base import Scheduler


class BaseExecutor(Executor):
    """Shared front end of all executors (``submit``, ``map``, ``shutdown``, ``batched``, properties).

    Subclasses pass executorlib's ``plot_dependency_graph``, ``plot_dependency_graph_filename`` and
    ``export_workflow_filename`` on to this constructor (plot mode: see ``executor.graph``).
    """

    def __init__(
        self,
        scheduler: Scheduler,
        policy: ResourcePolicy,
        *,
        disable_dependencies: bool,
        info: dict[str, Any],
        cache_directory: str | os.PathLike[str] | None = None,
        plot_dependency_graph: bool = False,
        plot_dependency_graph_filename: str | None = None,
        export_workflow_filename: str | None = None,
        block_allocation: bool = False,
    ) -> None:
        # Whatever fails here (a plot file in a missing directory, a cache directory without h5py) stops the
        # scheduler the subclass built first: no worker or job may outlive the error.
        try:
            # Plot mode (nothing runs, the graph is drawn at shutdown) or None; errors here, at construction.
            self._graph: PlotMode | None = None
            if plot_dependency_graph or plot_dependency_graph_filename is not None or export_workflow_filename is not None:
                from executor.graph import plot_mode  # only here: a fresh process need not import it to run calls

                self._graph = plot_mode(plot_dependency_graph, plot_dependency_graph_filename, export_workflow_filename, disable_dependencies)
            # pytest --xlib-graph: record calls, states and durations (else None).  Recording is switched on through
            # executor.graph, so while nothing imported it no recording can be active.
            recording = sys.modules.get("executor.graph.calls")
            self._calls: CallLog | None = recording.current() if recording is not None else None  # type: ignore[attr-defined]
            if self._graph is not None:  # plot mode runs nothing: stop the workers the subclass may have started
                scheduler.shutdown(cancel_futures=True)
            self._scheduler = scheduler
            self._created_in = os.getpid()
            self._cache_directory = cache_directory
            self._caches: dict[str, Any] = {}
            if cache_directory is not None:
                self._cache_for({"cache_directory": cache_directory})  # a missing h5py fails here, at construction
        except BaseException:
            scheduler.shutdown(cancel_futures=True)
            scheduler.join()
            raise
        self._block = block_allocation
        self._policy = policy
        self._disable_dependencies = disable_dependencies
        self._info = info
        self._closed = False
        self._waiting: set[Future[Any]] = set()  # calls waiting for their input futures
        self._waiting_lock = threading.Lock()
        self._unfinished = 0  # submitted calls whose futures are not done yet (len(executor))
        self._unfinished_lock = threading.Lock()
        self._log_obj_size = bool(info.get("log_obj_size"))
        live.add(scheduler)
        weakref.finalize(self, scheduler.shutdown, False)

    # ---- submission -------------------------------------------------------------------------------------
    def submit(self, fn: Callable[..., Any], /, *args: Any, resource_dict: dict[str, Any] | None = None, **kwargs: Any) -> Future[Any]:
        """Schedule ``fn(*args, **kwargs)`` and return its Future (see ``resource_dict`` keys in the docs)."""
        if self._scheduler.forked:
            raise RuntimeError(
                f"this {type(self).__name__} was created in the parent process (pid {self._created_in}) and cannot "
                f"run calls in a process forked from it (pid {os.getpid()}): its scheduler thread and sockets do "
                "not exist here; create a new executor in the child process"
            )
        future = self._submit(fn, args, resource_dict, kwargs)
        with self._unfinished_lock:
            self._unfinished += 1
        future.add_done_callback(self._finished)
        return future

    def _finished(self, _: Future[Any]) -> None:
        with self._unfinished_lock:
            self._unfinished -= 1

    def _submit(self, fn: Callable[..., Any], args: tuple[Any, ...], resource_dict: dict[str, Any] | None, kwargs: dict[str, Any]) -> Future[Any]:
        if self._closed or (self._graph is None and not self._scheduler.accepting):
            raise RuntimeError("cannot schedule new futures after shutdown")
        if not callable(fn):
            raise TypeError(f"submit() needs a callable as its first argument, got {fn!r}")
        if "resource_dict" in accepted_names(fn):
            raise ValueError(
                f"{_name(fn)}() has a parameter named 'resource_dict', which the executor reserves for the call's "
                "resources; rename the parameter"
            )
        resources = self._policy.for_call(resource_dict)
        resources = self._prepare(resources)
        if self._graph is not None:
            return self._graph.submit(fn, args, kwargs)
        inputs = dependencies.find_futures(kwargs, dependencies.find_futures(args, []))
        if inputs and self._disable_dependencies:
            raise ValueError(
                "this executor was built with disable_dependencies=True, so Future objects cannot be arguments; "
                f"got {len(inputs)} Future(s) in the arguments of {_name(fn)}()"
            )
        future: Future[Any] = Future()
        if self._calls is not None:
            self._calls.add(future, fn, args, kwargs)
        if inputs and not all(f.done() for f in inputs):
            # Pickle now with the inputs left out, so an unpicklable function or argument fails here, in the
            # caller's line, not later in a callback (the inputs' results are checked when they arrive).
            self._task(future, fn, *(dependencies.substitute(a, _placeholder) for a in (args, kwargs)), resources)
            self._scheduler.track(future)
            with self._waiting_lock:
                self._waiting.add(future)
            dependencies.when_done(inputs, lambda: self._inputs_done(future, fn, args, kwargs, resources, inputs))
            return future
        if inputs:
            error = dependencies.first_failure(inputs)
            if error is not None:
                future.set_exception(error)
                return future
            args, kwargs = dependencies.substitute(args), dependencies.substitute(kwargs)
        return self._queue(future, fn, args, kwargs, resources)

    def _prepare(self, resources: dict[str, Any]) -> dict[str, Any]:
        """Per-executor adjustments of a call's resources, in the caller's thread (relative cwd, ...)."""
        for name in ("cwd", "cache_directory", "error_log_file"):
            path = resources.get(name)
            if path is not None and not os.path.isabs(path):
                resources = {**resources, name: os.path.abspath(path)}
        return resources

    def _cache_for(self, resources: dict[str, Any]) -> Any:
        """The ``ResultCache`` of the call's cache directory (``None`` without a cache)."""
        directory = resources.get("cache_directory") or self._cache_directory
        if directory is None:
            return None
        directory = os.path.abspath(directory)
        cache = self._caches.get(directory)
        if cache is None:
            from executor.cache import ResultCache

            cache = self._caches[directory] = ResultCache(directory)
            telemetry.record_cache_directory(directory)
        return cache

    def _queue(self, future: Future[Any], fn: Callable[..., Any], args: Any, kwargs: Any, resources: dict[str, Any]) -> Future[Any]:
        """Resolve the call from the cache, or queue it (pickling it here: errors surface in this thread)."""
        cache = self._cache_for(resources)
        entry = None
        if cache is not None:
            key = cache.key(fn, args, kwargs, resources.get("cache_key"))
            hit, value = cache.lookup(key)
            if hit:
                if self._calls is not None:
                    self._calls.cache_hit(future)
                future.set_result(value)
                telemetry.record("cache_hits")
                return future
            entry = CacheEntry(cache, key, fn, args, kwargs)
        task = self._task(future, fn, args, kwargs, resources)
        task.cache = entry
        self._scheduler.enqueue(task)
        return future

    def _task(self, future: Future[Any], fn: Callable[..., Any], args: Any, kwargs: Any, resources: dict[str, Any]) -> Task:
        try:
            payload = dumps_call((fn, args, kwargs))
        except Exception as error:
            raise TypeError(
                f"cannot send {_name(fn)}() to a worker: the function or one of its arguments cannot be pickled "
                f"({type(error).__name__}: {error})"
            ) from error
        task = Task(future, payload, _name(fn), resources, cost(resources), resources.get("priority") or 0)
        task.log_size = self._log_obj_size
        return task

    def _inputs_done(self, future: Future[Any], fn: Callable[..., Any], args: Any, kwargs: Any, resources: dict[str, Any], inputs: list[Future[Any]]) -> None:
        with self._waiting_lock:
            self._waiting.discard(future)
        if future.done():  # cancelled meanwhile
            return
        error = dependencies.first_failure(inputs)
        if error is not None:
            fail(future, error)
            return
        if not self._scheduler.alive:
            fail(future, RuntimeError("the executor was shut down before the inputs of this call were ready"))
            return
        try:
            self._queue(future, fn, dependencies.substitute(args), dependencies.substitute(kwargs), resources)
        except Exception as error:  # e.g. a result of an input that cannot be pickled
            fail(future, error)

    def map(self, fn: Callable[..., Any], *iterables: Iterable[Any], timeout: float | None = None, chunksize: int = 1) -> Iterator[Any]:
        """Like ``Executor.map``: all calls are submitted now, results are yielded lazily in input order."""
        return in_order(self.submit, fn, iterables, timeout, chunksize)

    def batched(self, iterable: list[Future[Any]], n: int) -> list[Future[list[Any]]]:
        """Futures that resolve to lists of ``n`` results of ``iterable``, in the order the inputs finish."""
        return batched(iterable, n)

    # ---- shutdown ---------------------------------------------------------------------------------------
    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop accepting calls; with ``wait`` return when all calls and worker processes have ended."""
        if not self._closed:
            self._closed = True
            if cancel_futures:
                with self._waiting_lock:
                    waiting = list(self._waiting)
                for future in waiting:
                    future.cancel()
            self._scheduler.shutdown(cancel_futures)
        if wait:
            self._scheduler.join()
        if self._graph is not None:
            self._graph.finish()

    def __exit__(self, *exc_info: Any) -> None:
        self.shutdown(wait=True)

    # ---- properties ---------------------------------------------------------------------------------------
    @property
    def max_workers(self) -> int | None:
        """The number of block-allocation workers, else the ``max_workers`` setting; ``None`` after shutdown (as
        executorlib)."""
        if self._closed:
            return None
        if self._block:
            return self._scheduler.workers  # type: ignore[attr-defined, no-any-return]
        return self._info.get("max_workers")

    @max_workers.setter
    def max_workers(self, max_workers: int) -> None:
        """Resize the block-allocation workers (executorlib's setter); other modes have no workers to resize."""
        if not self._block:
            raise NotImplementedError("max_workers can only be changed with block_allocation=True")
        positive_or_none("max_workers", max_workers)
        if self._closed:
            raise RuntimeError("cannot resize an executor after shutdown")
        self._scheduler.resize(max_workers)  # type: ignore[attr-defined]
        self._info["max_workers"] = max_workers

    @property
    def info(self) -> dict[str, Any] | None:
        """The executor's settings; ``None`` after shutdown."""
        return None if self._closed else dict(self._info)

    @property
    def future_queue(self) -> None:
        """executorlib exposes its internal queue here; this executor has none to expose."""
        return None

    def __len__(self) -> int:
        """The number of submitted calls not finished yet (waiting for inputs, queued or running)."""
        with self._unfinished_lock:
            return self._unfinished

    def __bool__(self) -> bool:
        return True


def _placeholder(_: Future[Any]) -> None:
    return None


def _name(fn: Callable[..., Any]) -> str:
    return getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or type(fn).__name__
