"""``--xlib-backend=mock-flux`` with executorlib's FluxJobExecutor through the ``executor`` fixture, and the
``mock_flux`` fixture winning over the session instance."""

from __future__ import annotations

import textwrap

import pytest


def test_executorlib_impl_on_the_mock_flux_backend(pytester: pytest.Pytester) -> None:
    pytest.importorskip("executorlib")
    pytester.makepyfile(textwrap.dedent("""
        import os

        def test_sum(executor, xlib_backend):
            assert xlib_backend == "mock-flux"
            assert type(executor).__name__ == "FluxJobExecutor"
            assert type(executor).__module__.startswith("executorlib")
            assert executor.submit(sum, [1, 2]).result() == 3

        def test_fixture_instance_wins(mock_flux):
            assert os.environ["FLUX_URI"] == mock_flux.uri
            import flux, flux.job
            flux.job.result(flux.Flux(), flux.job.submit(flux.Flux(), flux.job.JobspecV1.from_command(["true"])))
            assert len(mock_flux.jobs()) == 1

        def test_session_instance_again():
            assert "/pytest-" not in os.environ["FLUX_URI"]
    """))
    result = pytester.runpytest_subprocess("--xlib-backend=mock-flux", "--xlib-impl=executorlib",
                                           "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)
