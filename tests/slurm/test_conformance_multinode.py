"""Multi-node fidelity of the mock SLURM, measured: each scenario runs unchanged on ``MockSlurm(nodes=3,
cpus_per_node=2)`` and on the real 3-node SLURM of ci/start-slurm-multinode.sh (fixture ``multinode``).

Node names (n1..n3) are the same on both, so they are compared as they are.  The expected values are what
real SLURM 22.05 did on that cluster (written against it first; docs/slurm.md "Measured fidelity" lists the
rows).  One file on purpose: it is the multi-node part of the fidelity table, one test per row.
"""

from __future__ import annotations

import re
import sys
import time

from slurmclusters import Cluster, LineReader, check_lines

PY = sys.executable
SH = "#!/bin/sh\n"
#: Prints "<rank> <node id> <local id> <SLURMD_NODENAME> <hostname> <host resolves>" for a task.
WHERE = (
    "import os, socket; e = os.environ; h = socket.gethostname(); "
    "print(e['SLURM_PROCID'], e['SLURM_NODEID'], e['SLURM_LOCALID'], e['SLURMD_NODENAME'], h, "
    "socket.gethostbyname(h).startswith('127.'))"
)


def placement(cluster: Cluster, *options: str) -> list[tuple[int, int, int, str, str]]:
    """(rank, node id, local id, SLURMD_NODENAME, hostname) of every task of ``srun <options>``, by rank."""
    done = cluster.run("srun", *options, PY, "-c", WHERE)
    assert done.rc == 0 and not cluster.lines(done.err), str(done)
    rows = []
    for line in done.out.splitlines():
        rank, node_id, local, name, host, resolves = line.split()
        assert resolves == "True", f"gethostbyname({host}) in a task: {line}"
        rows.append((int(rank), int(node_id), int(local), name, host))
    return sorted(rows)


# --- where tasks run -----------------------------------------------------------------------------------------


def test_tasks_see_their_node_name_host_name_and_node_id(multinode: Cluster) -> None:
    assert placement(multinode, "-N", "3", "-n", "3") == [
        (0, 0, 0, "n1", "n1"), (1, 1, 0, "n2", "n2"), (2, 2, 0, "n3", "n3")]


def test_block_distribution_over_two_nodes(multinode: Cluster) -> None:
    assert placement(multinode, "-N", "2", "-n", "4") == [
        (0, 0, 0, "n1", "n1"), (1, 0, 1, "n1", "n1"), (2, 1, 0, "n2", "n2"), (3, 1, 1, "n2", "n2")]


def test_more_tasks_than_a_node_has_cpus_fill_nodes_in_order(multinode: Cluster) -> None:
    assert placement(multinode, "-n", "5") == [
        (0, 0, 0, "n1", "n1"), (1, 0, 1, "n1", "n1"), (2, 1, 0, "n2", "n2"), (3, 1, 1, "n2", "n2"),
        (4, 2, 0, "n3", "n3")]


def test_two_nodes_three_tasks(multinode: Cluster) -> None:
    assert placement(multinode, "-N", "2", "-n", "3") == [
        (0, 0, 0, "n1", "n1"), (1, 0, 1, "n1", "n1"), (2, 1, 0, "n2", "n2")]


def test_ntasks_per_node_spreads_the_tasks(multinode: Cluster) -> None:
    assert placement(multinode, "-n", "3", "--ntasks-per-node=1") == [
        (0, 0, 0, "n1", "n1"), (1, 1, 0, "n2", "n2"), (2, 2, 0, "n3", "n3")]


def test_nodes_with_ntasks_per_node_gives_their_product(multinode: Cluster) -> None:
    assert [row[3] for row in placement(multinode, "-N", "2", "--ntasks-per-node=2")] == ["n1", "n1", "n2", "n2"]


def test_job_environment_of_a_two_node_step(multinode: Cluster) -> None:
    done = multinode.run("srun", "-N", "2", "-n", "4", "-l", "sh", "-c",
                         'echo "$SLURM_JOB_NODELIST $SLURM_JOB_NUM_NODES $SLURM_TASKS_PER_NODE $SLURM_STEP_NODELIST '
                         '$SLURM_NNODES $SLURM_JOB_CPUS_PER_NODE"')
    assert done.rc == 0, str(done)
    assert sorted(done.out.splitlines()) == [f"{r}: n[1-2] 2 2(x2) n[1-2] 2 2(x2)" for r in range(4)]


def test_exclusive_gives_each_job_its_own_node(multinode: Cluster) -> None:
    """Two concurrent one-task jobs: without --exclusive both fit on n1 (2 CPUs), with it each takes a node."""
    for exclusive, distinct in (([], 1), (["--exclusive"], 2)):
        procs, nodes = [], []
        for _ in range(2):  # the first runs before the second is submitted: placement is ordered
            proc = multinode.start("srun", *exclusive, "-n1", "sh", "-c", "echo $SLURMD_NODENAME; exec sleep 30")
            procs.append(proc)
            nodes.append(LineReader(proc.stdout).next(timeout=30))  # type: ignore[arg-type]
        # (which node an exclusive job gets first depends on what the previous jobs left COMPLETING on real SLURM)
        assert len(set(nodes)) == distinct and (exclusive or nodes == ["n1", "n1"]), (exclusive, nodes)
        for proc in procs:
            proc.terminate()
            proc.communicate(timeout=30)


def test_exclusive_job_owns_every_cpu_of_its_node(multinode: Cluster) -> None:
    done = multinode.run("srun", "--exclusive", "-n1", "sh", "-c",
                         "echo $SLURM_JOB_ID $SLURM_CPUS_ON_NODE $SLURM_JOB_CPUS_PER_NODE")
    assert done.rc == 0, str(done)
    job, step_cpus, job_cpus = done.out.split()
    assert (step_cpus, job_cpus) == ("1", "2")
    fields = multinode.show_job(int(job))
    assert (fields["NumCPUs"], fields["NumNodes"], fields["OverSubscribe"]) == ("2", "1", "NO"), fields


def test_batch_job_on_two_nodes_runs_its_script_on_the_first_and_steps_on_both(multinode: Cluster) -> None:
    job = multinode.sbatch(SH + 'echo "script $(hostname) $SLURM_JOB_NUM_NODES $SLURM_NODEID"\n'
                           "srun sh -c 'echo step $(hostname) $SLURM_NODEID' | sort\n", "-N", "2", "-o", "out.txt")
    multinode.wait_state(job, "COMPLETED")
    assert (multinode.workdir / "out.txt").read_text().splitlines() == ["script n1 2 0", "step n1 0", "step n2 1"]


def test_mpi_across_two_nodes(multinode: Cluster) -> None:
    code = ("from mpi4py import MPI; c = MPI.COMM_WORLD; "
            "print(c.Get_rank(), c.Get_size(), MPI.Get_processor_name(), c.allreduce(c.Get_rank() + 1))")
    done = multinode.run("srun", "-N", "2", "-n", "4", "--mpi=pmi2", PY, "-c", code, timeout=120)
    assert done.rc == 0 and not multinode.lines(done.err), str(done)
    assert sorted(done.out.splitlines()) == ["0 4 n1 10", "1 4 n1 10", "2 4 n2 10", "3 4 n2 10"]


# --- nodes going down and coming back ---------------------------------------------------------------------------


def test_downing_a_node_needs_a_reason_and_a_known_node(multinode: Cluster) -> None:
    no_reason = multinode.run("scontrol", "update", "nodename=n2", "state=down")
    assert (no_reason.rc, no_reason.err) == (
        1, "You must specify a reason when DOWNING or DRAINING a node. Request denied\n"), str(no_reason)
    unknown = multinode.run("scontrol", "update", "nodename=n9", "state=down", "reason=x")
    assert (unknown.rc, unknown.err) == (1, "slurm_update error: Invalid node name specified\n"), str(unknown)
    assert set(multinode.node_states().values()) == {"idle"}


def test_a_down_node_shows_in_sinfo_and_scontrol_and_comes_back(multinode: Cluster) -> None:
    assert multinode.set_node("n2", "down", "xlib-reason").rc == 0
    assert multinode.node_states() == {"n1": "idle", "n2": "down", "n3": "idle"}
    listed = multinode.run("sinfo")
    check_lines(multinode.lines(listed.out), [
        "PARTITION AVAIL  TIMELIMIT  NODES  STATE NODELIST",
        "<partition>*       up   infinite      2   idle n[1,3]",
        "<partition>*       up   infinite      1   down n2"])
    shown = multinode.run("scontrol", "show", "node", "n2")
    assert re.search(r"\bState=DOWN\b", shown.out) and re.search(r"Reason=xlib-reason \[\w+@<time>\]", multinode.norm(shown.out)), str(shown)
    assert multinode.set_node("n2", "resume").rc == 0
    # (real SLURM shows n2 "idle*", not responding, until its next ping of the node; the mock has no pings)
    assert multinode.node_states() == {"n1": "idle", "n2": "idle", "n3": "idle"}


def test_node_failure_ends_a_running_two_node_step(multinode: Cluster) -> None:
    proc = multinode.start("srun", "-N", "2", "-n", "2", "sh", "-c",
                           "echo $SLURM_PROCID $SLURM_JOB_ID $SLURMD_NODENAME; exec sleep 60")
    reader = LineReader(proc.stdout)  # type: ignore[arg-type]
    started = dict(reader.next(timeout=30).split(" ", 1) for _ in range(2))
    job = int(started["0"].split()[0])
    first, second = started["0"].split()[1], started["1"].split()[1]  # (real SLURM may pick n[1,3])
    assert multinode.set_node(second, "down", "xlib-test").rc == 0
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 143, err
    lines = [re.sub(rf"\b{job}\.0\b", "<J>.0", line) for line in multinode.lines(err)]
    check_lines(lines, [
        f"srun: error: Node failure on {second}",
        (f"slurmstepd-{first}: error: *** STEP <J>.0 ON {first} CANCELLED AT <time> DUE TO NODE FAILURE, SEE "
         "SLURMCTLD LOG FOR DETAILS ***"),
        "srun: Job step aborted: Waiting up to 32 seconds for job step to finish.",
        f"srun: error: {first}: task 0: Terminated",
    ], optional=[f"srun: error: {second}: task 1: Terminated"])  # real: lost at times with the down node's slurmd
    fields = multinode.wait_state(job, "NODE_FAIL", timeout=30)
    assert (fields["Reason"], fields["ExitCode"]) == ("NodeDown", "0:15"), fields
    assert multinode.node_states()[second] == "down"


def test_a_job_needing_a_down_node_waits_and_starts_when_it_resumes(multinode: Cluster) -> None:
    assert multinode.set_node("n3", "down", "xlib-test").rc == 0
    proc = multinode.start("srun", "-N", "3", "-n", "3", "printenv", "SLURMD_NODENAME")
    err = LineReader(proc.stderr)  # type: ignore[arg-type]
    assert err.next(timeout=30) == "srun: Required node not available (down, drained or reserved)"
    assert re.fullmatch(r"srun: job \d+ queued and waiting for resources", err.next(timeout=30))
    job = int(multinode.run("squeue", "--noheader", "--format=%i").out.split()[0])
    # real 22.05 says the first right after submission, the second once its main scheduler looked at the job
    reasons = ("Nodes_required_for_job_are_DOWN,_DRAINED_or_reserved_for_jobs_in_higher_priority_partitions",
               "ReqNodeNotAvail,_UnavailableNodes:n3")
    fields = multinode.show_job(job)
    assert fields["Reason"] in reasons, fields
    listed = multinode.run("squeue", "--noheader", "--format=%R")
    assert listed.out in [f"({reason.replace('_', ' ')})\n" for reason in reasons], str(listed)
    assert multinode.set_node("n3", "resume").rc == 0
    assert err.next(timeout=30) == f"srun: job {job} has been allocated resources"
    out, _ = proc.communicate(timeout=30)
    assert (proc.returncode, sorted(out.split())) == (0, ["n1", "n2", "n3"])


def test_node_failure_requeues_a_running_batch_job(multinode: Cluster) -> None:
    job = multinode.sbatch(SH + 'echo "start $(hostname)"\nexec sleep 300\n', "-N", "2", "-o", "out.txt")
    multinode.wait_state(job, "RUNNING")
    deadline = time.monotonic() + 30
    while "start" not in (multinode.workdir / "out.txt").read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert multinode.set_node("n2", "down", "xlib-test").rc == 0
    # real 22.05 holds the requeued job PENDING (Reason=BeginTime) for ~2 minutes; the mock restarts it at once
    fields = multinode.wait_job(job, lambda f: f.get("Restarts") == "1" and f.get("JobState") in ("PENDING", "RUNNING"),
                                timeout=30, what="requeued")
    assert fields["Requeue"] == "1", fields
    text = multinode.lines((multinode.workdir / "out.txt").read_text(), {"J": job})
    assert "slurmstepd-n1: error: *** JOB <J> ON n1 CANCELLED AT <time> DUE TO NODE FAILURE, SEE SLURMCTLD LOG FOR " \
           "DETAILS ***" in text, text
    assert multinode.set_node("n2", "resume").rc == 0


def test_draining_a_node_lets_its_job_finish_and_starts_nothing_new_there(multinode: Cluster) -> None:
    proc = multinode.start("srun", "-w", "n3", "-n1", "sh", "-c", "echo started; sleep 2; echo done")
    reader = LineReader(proc.stdout)  # type: ignore[arg-type]
    assert reader.next(timeout=30) == "started"
    assert multinode.set_node("n3", "drain", "xlib-test").rc == 0
    assert multinode.node_states()["n3"] in ("drng", "drain")
    assert reader.next(timeout=30) == "done"
    proc.communicate(timeout=30)
    assert proc.returncode == 0
    multinode.wait_node("n3", "drain")
    done = multinode.run("srun", "-n", "4", "printenv", "SLURMD_NODENAME")
    assert done.rc == 0 and sorted(done.out.split()) == ["n1", "n1", "n2", "n2"], str(done)
