"""The plugin's multi-node options: a downstream test asks for "a 4-node cluster" on a laptop.

* ``--xlib-mock-slurm-nodes=N`` (env ``XLIB_MOCK_SLURM_NODES``, ini ``xlib_mock_slurm_nodes``): the node count of
  the ``--xlib-backend=mock-slurm`` session cluster;
* ``@pytest.mark.slurm(nodes=N)``: skip (with the reason) unless the cluster has at least N nodes;
* ``@pytest.mark.mock_slurm(nodes=N)`` with the ``mock_slurm`` fixture: a per-test N-node cluster.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

Run = Callable[..., pytest.RunResult]

NODES_TEST = """
import subprocess
import pytest

def node_names(n):
    done = subprocess.run(["srun", "-N", str(n), "-n", str(n), "printenv", "SLURMD_NODENAME"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return sorted(done.stdout.split())

@pytest.mark.slurm(nodes=3)
def test_three_nodes_from_the_session_cluster(xlib_backend):
    assert node_names(3) == ["n1", "n2", "n3"]

@pytest.mark.slurm(nodes=4)
def test_four_nodes_needed():
    raise AssertionError("must be skipped: the session cluster has 3 nodes")

@pytest.mark.slurm(nodes=4)
@pytest.mark.mock_slurm(nodes=4, cpus_per_node=1)
def test_own_four_node_cluster(mock_slurm):
    assert node_names(4) == ["n1", "n2", "n3", "n4"]
    assert mock_slurm.nodes() == {"n1": "idle", "n2": "idle", "n3": "idle", "n4": "idle"}
"""


def test_session_cluster_nodes_from_the_command_line_and_the_slurm_nodes_marker(pytester: pytest.Pytester, run: Run) -> None:
    pytester.makepyfile(NODES_TEST)
    result = run("--xlib-backend=mock-slurm", "--xlib-mock-slurm-nodes=3", "--strict-markers", "-rs", timeout=120)
    result.assert_outcomes(passed=2, skipped=1)
    result.stdout.fnmatch_lines(["xlib: backend=mock-slurm (command line), *, mock-slurm-nodes=3 (command line)",
                                 "*slurm(nodes=4): the cluster has 3 node(s) (--xlib-mock-slurm-nodes=N*"])


def test_session_cluster_nodes_from_the_ini_file(pytester: pytest.Pytester, run: Run) -> None:
    pytester.makeini("[pytest]\nxlib_backend = mock-slurm\nxlib_mock_slurm_nodes = 3\n")
    pytester.makepyfile(NODES_TEST)
    run("-rs", timeout=120).assert_outcomes(passed=2, skipped=1)


@pytest.mark.parametrize("value", ["0", "two"])
def test_a_bad_node_count_is_a_usage_error_naming_where_it_was_given(pytester: pytest.Pytester, run: Run, value: str,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XLIB_MOCK_SLURM_NODES", value)
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = run("--xlib-backend=mock-slurm")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*XLIB_MOCK_SLURM_NODES={value}: the mock SLURM's node count must be a whole number >= 1*"])


def test_slurm_nodes_needs_a_positive_integer(pytester: pytest.Pytester, run: Run) -> None:
    pytester.makepyfile("import pytest\n\n@pytest.mark.slurm(nodes='many')\ndef test_x():\n    pass\n")
    result = run("--xlib-backend=mock-slurm")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*slurm(nodes=...) needs a positive integer, got 'many'*"])
