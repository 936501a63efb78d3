"""The srun command line built from resources, the allocation check, and the reading of srun's stderr (pure)."""

from __future__ import annotations

import pytest

from executor.spawners.srun_command import (
    GRANTED,
    NEVER,
    OTHER,
    QUEUED,
    STEP_WAIT,
    Node,
    all_local,
    allocation_shortfall,
    classify,
    current_allocation,
    is_slurm_line,
    job_id_in,
    parse_nodes,
    srun_options,
)

DEFAULTS = {"cores": 1, "threads_per_core": 1, "gpus_per_core": 0, "cwd": None, "openmpi_oversubscribe": False, "slurm_cmd_args": []}


def test_defaults_match_executorlibs_command_line() -> None:
    """executorlib observed: ``srun -n 1 --cpus-per-task=1 <python> ...``."""
    assert srun_options(DEFAULTS) == ["-n", "1", "--cpus-per-task=1"]


def test_every_resource_key_becomes_its_srun_option_in_executorlibs_order() -> None:
    resources = {
        **DEFAULTS,
        "cores": 4,
        "threads_per_core": 2,
        "gpus_per_core": 1,
        "cwd": "/scratch/run",
        "num_nodes": 2,
        "exclusive": True,
        "openmpi_oversubscribe": True,
        "run_time_max": 130,
        "priority": -3,
        "slurm_cmd_args": ["--partition=gpu", "--mem=4G"],
    }
    assert srun_options(resources, pmi_mode="pmix") == [
        "-n", "4", "-D", "/scratch/run", "--mpi=pmix", "-N", "2", "--cpus-per-task=2", "--gpus-per-task=1",
        "--exclusive", "--oversubscribe", "--time=3", "--nice=3", "--partition=gpu", "--mem=4G",
    ]  # fmt: skip


def test_executorlib_compatible_cmd_against_executorlib_itself() -> None:
    """Where we do not deliberately differ (docs/slurm.md), the options equal executorlib's."""
    command = pytest.importorskip("executorlib.standalone.command")
    theirs = command.generate_slurm_command(
        cores=2, cwd="/w", threads_per_core=3, gpus_per_core=1, num_nodes=2, exclusive=False,
        openmpi_oversubscribe=True, slurm_cmd_args=["-p", "x"], pmi_mode="pmi2", run_time_max=130,
    )  # fmt: skip
    ours = srun_options(
        {**DEFAULTS, "cores": 2, "cwd": "/w", "threads_per_core": 3, "gpus_per_core": 1, "num_nodes": 2,
         "openmpi_oversubscribe": True, "slurm_cmd_args": ["-p", "x"], "run_time_max": 130},
        pmi_mode="pmi2",
    )  # fmt: skip
    assert theirs[0] == "srun" and theirs[1:] == ours


def test_a_block_worker_gets_no_time_limit_nor_nice() -> None:
    """A persistent worker serves many calls: one call's run_time_max must not end it."""
    options = srun_options({**DEFAULTS, "run_time_max": 30, "priority": -1}, one_call=False)
    assert not [o for o in options if o.startswith(("--time", "--nice"))]


def test_positive_priority_is_not_passed_to_srun() -> None:
    assert not [o for o in srun_options({**DEFAULTS, "priority": 5}) if o.startswith("--nice")]


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ("srun: Requested partition configuration not available now\n", NEVER),
        ("srun: job 41 queued and waiting for resources\n", QUEUED),
        ("srun: job 41 has been allocated resources\n", GRANTED),
        ("srun: Job 7 step creation temporarily disabled, retrying (Requested nodes are busy)\n", STEP_WAIT),
        ("srun: error: vm: task 0: Killed\n", OTHER),
        ("a task printing: queued and waiting for resources\n", OTHER),  # the task's output is not srun
    ],
)
def test_srun_stderr_is_classified(line: str, kind: str) -> None:
    assert classify(line) == kind


def test_slurm_lines_and_job_ids_are_recognised() -> None:
    assert is_slurm_line("slurmstepd-vm: error: *** STEP 42.0 ON vm CANCELLED AT 2026-11-29T16:00:00 ***")
    assert is_slurm_line("srun: Force Terminated StepId=42.0")
    assert not is_slurm_line("Traceback (most recent call last):")
    assert job_id_in("srun: job 42 queued and waiting for resources") == "42"
    assert job_id_in("the user printed job 42") is None


def test_allocation_is_read_from_the_environment() -> None:
    assert current_allocation({}) is None
    allocation = current_allocation({"SLURM_JOB_ID": "7", "SLURM_NTASKS": "4", "SLURM_CPUS_PER_TASK": "2"})
    assert allocation is not None and allocation.cpus == 8
    assert current_allocation({"SLURM_JOB_ID": "7", "SLURM_NTASKS": "4"}).cpus == 4  # type: ignore[union-attr]
    assert current_allocation({"SLURM_JOB_ID": "7"}).cpus is None  # type: ignore[union-attr]


def test_allocation_shortfall_names_what_does_not_fit() -> None:
    allocation = current_allocation({"SLURM_JOB_ID": "7", "SLURM_NTASKS": "4", "SLURM_CPUS_PER_TASK": "1"})
    assert allocation is not None
    assert allocation_shortfall(allocation, 2, 2, 1) is None
    message = allocation_shortfall(allocation, 3, 2, 1)
    assert message is not None and "= 6 CPUs" in message and "= 4" in message and "at most 2 workers" in message


def test_nodes_parse_and_locality() -> None:
    nodes = parse_nodes("vm|vm|127.0.0.1|4\nvm|vm|127.0.0.1|4\nn2|n2|10.0.0.2|8\n")
    assert [n.name for n in nodes] == ["vm", "n2"] and nodes[1].cpus == 8
    assert all_local(nodes[:1], ["login"], [])  # loopback address
    assert not all_local(nodes, ["login"], ["10.0.0.1"])
    assert all_local([Node("c1", "login", "10.0.0.1", 4)], ["login"], [])
    assert not all_local([], ["login"], [])
    with pytest.raises(ValueError, match="unexpected sinfo line"):
        parse_nodes("PARTITION AVAIL TIMELIMIT\n")


def test_the_launched_worker_names_the_coverage_variable_the_parent_sets() -> None:
    from executor.coverage.parent import CONFIG_VARIABLE
    from executor.worker.launched import COVERAGE_VARIABLE

    assert COVERAGE_VARIABLE == CONFIG_VARIABLE


def test_workers_bind_to_loopback_only_when_every_node_is_this_host() -> None:
    import socket

    from executor.frontends.slurm_job import workers_are_remote
    from executor.spawners.srun_command import Allocation

    here = socket.gethostname()
    local = [Node(here, here, "127.0.0.1", 4)]
    remote = [*local, Node("far-away-node", "far-away-node", "192.0.2.7", 4)]  # TEST-NET-1: never this host
    assert not workers_are_remote(None, None, lambda: local)
    assert workers_are_remote(None, None, lambda: remote)
    assert workers_are_remote(None, None, lambda: None), "nodes unknown (sinfo failed): bind where others reach us"
    assert not workers_are_remote(True, None, lambda: remote), "hostname_localhost=True asks for loopback"
    assert workers_are_remote(False, None, lambda: local), "hostname_localhost=False asks for the host name"
    one_node_here = Allocation("7", 1, 1, 1, here)

    def never_asked() -> None:
        raise AssertionError("sinfo asked although the allocation is this host")

    assert not workers_are_remote(None, one_node_here, never_asked)


def test_a_task_killed_by_a_signal_is_reported_as_that_signal() -> None:
    from executor.spawners.srun_command import task_signal

    assert task_signal(137, ["srun: error: vm: task 0: Killed\n", "srun: Force Terminated StepId=42.0\n"]) == -9
    assert task_signal(143, ["srun: error: vm: task 0: Terminated\n"]) == -15
    assert task_signal(137, ["srun: error: vm: task 0: Exited with exit code 137\n"]) == 137  # its own exit code
    assert task_signal(3, ["srun: error: vm: task 0: Exited with exit code 3\n"]) == 3
    assert task_signal(1, ["srun: error: invalid partition specified: nope\n"]) == 1
