"""The mock SLURM with several nodes: the control API for nodes, host names, node selection, requeue.

What real SLURM does on several nodes is measured in tests/slurm/test_conformance_multinode.py (mock and
real); these tests cover what only the mock has (its Python control API, ``node_hostnames``) and the cases
that need its determinism (a requeued batch job runs again at once and delivers one result).
"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from slurm_helpers import Run

from pytest_executorlib.mocks.slurm import MockSlurm

SH = "#!/bin/sh\n"


@pytest.fixture
def three(tmp_path: Path) -> Iterator[MockSlurm]:
    """3 nodes of 2 CPUs; the controller must have logged no error."""
    with MockSlurm(tmp_path / "slurm3", nodes=3, cpus_per_node=2) as c:
        yield c
    log = (tmp_path / "slurm3" / "slurmctld.log").read_text()
    assert "Traceback" not in log, log


@pytest.fixture
def run3(three: MockSlurm, work: Path) -> Run:
    def _run(*argv: str, timeout: float = 60, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        kwargs.setdefault("cwd", work)
        kwargs.setdefault("env", three.environ())
        return subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, **kwargs)

    return _run


def test_node_down_ends_a_running_step_and_resume_brings_the_node_back(three: MockSlurm, work: Path) -> None:
    proc = subprocess.Popen(["srun", "-N", "2", "-n", "2", "sh", "-c", "echo up; exec sleep 60"], cwd=work,
                            env=three.environ(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline() == "up\n"
    three.node_down("n2", reason="disk on fire")
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 143 and err.splitlines()[0] == "srun: error: Node failure on n2", err
    job = three.jobs()[0]
    assert (job.state, job.reason, job.signal, job.nodelist) == ("NODE_FAIL", "NodeDown", 15, "n[1-2]")
    assert three.nodes() == {"n1": "idle", "n2": "down", "n3": "idle"}
    three.node_resume("n2")
    assert three.nodes() == {"n1": "idle", "n2": "idle", "n3": "idle"}


def test_node_down_refuses_unknown_nodes_and_an_empty_reason(three: MockSlurm) -> None:
    with pytest.raises(ValueError, match=r"unknown node 'n7'; this cluster has n\[1-3\]"):
        three.node_down("n7")
    with pytest.raises(ValueError, match="a reason is required"):
        three.node_down("n1", reason="")
    with pytest.raises(ValueError, match=r"unknown node 'n\[3-4\]'"):
        three.node_resume("n[3-4]")


def test_a_requeued_batch_job_runs_again_on_healthy_nodes_and_delivers_one_result(three: MockSlurm, run3: Run,
                                                                                    work: Path) -> None:
    """A node failure under a running batch job: it is requeued, runs again from the start and completes once."""
    (work / "job.sh").write_text(SH + 'echo "start $SLURMD_NODENAME $SLURM_JOB_NODELIST" >> log.txt\n'
                                 '[ -e again ] || { touch again; sleep 60; }\necho result >> result.txt\n')
    job = int(run3("sbatch", "--parsable", "-N", "2", "-o", "out.txt", "job.sh").stdout)
    three.wait(job, until=lambda j: (work / "again").exists())
    three.node_down("n2")
    done = three.wait(job, timeout=30)
    assert (done.state, done.restarts) == ("COMPLETED", 1)
    assert (work / "log.txt").read_text().splitlines() == ["start n1 n[1-2]", "start n1 n[1,3]"]
    assert (work / "result.txt").read_text() == "result\n"
    assert "DUE TO NODE FAILURE, SEE SLURMCTLD LOG FOR DETAILS ***" in (work / "out.txt").read_text()


def test_drain_lets_the_running_job_finish_and_keeps_new_ones_away(three: MockSlurm, run3: Run, work: Path) -> None:
    proc = subprocess.Popen(["srun", "-w", "n1", "-n1", "sh", "-c", "echo up; read line; echo done"], cwd=work,
                            env=three.environ(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline() == "up\n"
    three.node_down("n1", drain=True)
    assert three.nodes()["n1"] == "drng"
    out, _ = proc.communicate("go\n", timeout=30)
    assert (proc.returncode, out) == (0, "done\n")
    assert three.nodes()["n1"] == "drain"
    placed = run3("srun", "-n", "4", "printenv", "SLURMD_NODENAME")
    assert sorted(placed.stdout.split()) == ["n2", "n2", "n3", "n3"], placed.stderr


def test_nodelist_and_exclude(run3: Run) -> None:
    picked = run3("srun", "-w", "n[2-3]", "-n", "2", "printenv", "SLURMD_NODENAME")
    assert sorted(picked.stdout.split()) == ["n2", "n3"], picked.stderr
    avoided = run3("srun", "-x", "n1", "-n", "4", "printenv", "SLURMD_NODENAME")
    assert sorted(avoided.stdout.split()) == ["n2", "n2", "n3", "n3"], avoided.stderr
    bad = run3("srun", "-w", "n9", "true")
    assert (bad.returncode, bad.stderr) == (1, "srun: error: Unable to allocate resources: Invalid node name specified\n")


def test_steps_of_a_two_node_allocation_spread_over_its_nodes(run3: Run, three: MockSlurm, work: Path) -> None:
    (work / "job.sh").write_text(SH + "srun -n 4 printenv SLURMD_NODENAME | sort | tr '\\n' ' '; echo\n"
                                 "srun -N 1 -n 2 printenv SLURMD_NODENAME | sort | tr '\\n' ' '; echo\n")
    job = int(run3("sbatch", "--parsable", "-N", "2", "-n", "4", "-o", "out.txt", "job.sh").stdout)
    assert three.wait(job).state == "COMPLETED"
    assert (work / "out.txt").read_text() == "n1 n1 n2 n2 \nn1 n1 \n"


def test_without_node_hostnames_tasks_see_the_machine_host_name(tmp_path: Path) -> None:
    with MockSlurm(tmp_path / "plain", nodes=2, cpus_per_node=1, node_hostnames=False) as plain:
        done = subprocess.run(["srun", "-N2", "-n2", "sh", "-c", "echo $SLURMD_NODENAME $(hostname)"],
                              env=plain.environ(), capture_output=True, text=True, timeout=60)
    host = socket.gethostname()
    assert sorted(done.stdout.splitlines()) == [f"n1 {host}", f"n2 {host}"], done.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="per-node host names need root (unshare --uts --mount)")
def test_with_node_hostnames_tasks_and_batch_scripts_see_their_node(tmp_path: Path) -> None:
    with MockSlurm(tmp_path / "named", nodes=2, cpus_per_node=1, node_hostnames=True) as named:
        done = subprocess.run(["srun", "-N2", "-n2", "sh", "-c", "echo $SLURMD_NODENAME $(hostname)"],
                              env=named.environ(), capture_output=True, text=True, timeout=60)
        assert sorted(done.stdout.splitlines()) == ["n1 n1", "n2 n2"], done.stderr
        assert socket.gethostname() not in ("n1", "n2")  # the namespaces leave this process's host name alone


def test_node_hostnames_must_be_a_bool_or_none(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="node_hostnames must be None, True or False, got 'yes'"):
        MockSlurm(tmp_path / "x", node_hostnames="yes")  # type: ignore[arg-type]
