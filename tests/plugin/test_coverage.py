"""pytest-cov: executors are closed by an inner runtestloop wrapper, before pytest-cov combines its data."""

from __future__ import annotations

import pytest


def test_runtestloop_wrapper_is_inside_pytest_cov(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(
        """
        def test_wrapper_order(request):
            pm = request.config.pluginmanager
            impls = pm.hook.pytest_runtestloop.get_hookimpls()
            wrappers = [pm.get_name(i.plugin) for i in impls if i.wrapper or i.hookwrapper]
            # pluggy calls the list from the end: a lower index is a more inner wrapper,
            # whose code after `yield` runs first.
            assert wrappers.index("executorlib") < wrappers.index("_cov"), wrappers

        def test_with_executor(executor):
            assert executor.submit(abs, -3).result() == 3
        """
    )
    result = run("--cov", "--cov-report=term", "--xlib-no-cov")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*coverage: platform*", "worker coverage data files written: *"])
