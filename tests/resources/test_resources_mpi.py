"""``cores > 1``: the call is an MPI program of that many ranks (mpiexec + mpi4py), in both modes."""

from __future__ import annotations

import importlib.util
import os
import sys

import pytest
import rescalls
from reshelpers import needs_mpi, shut_down_within

from executor import SingleNodeExecutor
from executor.spawners import mpiexec

pytestmark = pytest.mark.timeout(60)


@needs_mpi
@pytest.mark.parametrize("cores", [2, 3])
def test_function_runs_once_per_rank_and_result_is_list_in_rank_order(executors, cores):
    resources = {"cores": cores}
    ex = executors.make(resources, max_cores=cores)
    result = executors.submit(ex, resources, rescalls.rank_info, "payload").result(timeout=30)
    assert isinstance(result, list) and len(result) == cores
    assert [r["rank"] for r in result] == list(range(cores))  # rank order
    assert all(r["size"] == cores for r in result)  # every rank sees COMM_WORLD of that size
    assert all(r["x"] == "payload" for r in result)
    pids = {r["pid"] for r in result}
    assert len(pids) == cores, "each rank must be its own process"
    assert os.getpid() not in pids


@needs_mpi
def test_block_worker_runs_many_mpi_calls(executors, mode):
    resources = {"cores": 2}
    ex = executors.make(resources, max_cores=2)
    futures = [executors.submit(ex, resources, rescalls.rank_info, i) for i in range(4)]
    results = [f.result(timeout=30) for f in futures]
    assert [[r["x"] for r in res] for res in results] == [[i, i] for i in range(4)]
    assert all([r["rank"] for r in res] == [0, 1] for res in results)


@needs_mpi
@pytest.mark.parametrize("bad_rank", [0, 1])
def test_failure_on_any_rank_fails_the_future_with_that_exception_type(executors, bad_rank):
    resources = {"cores": 2}
    ex = executors.make(resources, max_cores=2)
    future = executors.submit(ex, resources, rescalls.fail_on_rank, bad_rank)
    with pytest.raises(rescalls.RankError, match=f"rank {bad_rank} failed"):
        future.result(timeout=30)
    # the executor keeps working after a failed MPI call
    assert executors.submit(ex, resources, rescalls.fail_on_rank, -1).result(timeout=30) == [0, 1]


@needs_mpi
@pytest.mark.timeout(40)
@pytest.mark.parametrize("bad_rank", [0, 1])
def test_failure_on_one_rank_while_the_others_wait_in_a_collective_fails_the_future(executors, bad_rank):
    """The usual MPI failure: one rank raises, the others block in a collective waiting for it."""
    resources = {"cores": 2}
    ex = executors.make(resources, max_cores=2)
    # run_time_max only keeps a hang from outliving the test; the failure must come long before it
    call = {**(executors.per_call(resources) or {}), "run_time_max": 3}
    future = ex.submit(rescalls.fail_on_rank_while_others_wait, bad_rank, resource_dict=call)
    error = future.exception(timeout=30)
    assert isinstance(error, rescalls.RankError), f"expected the rank's RankError, got {error!r}"
    assert executors.submit(ex, resources, rescalls.fail_on_rank, -1).result(timeout=30) == [0, 1]


@needs_mpi
def test_openmpi_oversubscribe_is_accepted_and_passed_to_the_launcher(executors, monkeypatch):
    seen = []
    real = mpiexec.command

    def spy(ranks, oversubscribe, **kwargs):
        seen.append((ranks, oversubscribe))
        return real(ranks, oversubscribe, **kwargs)

    monkeypatch.setattr(mpiexec, "command", spy)
    resources = {"cores": 2}
    ex = executors.make(resources, max_cores=2, openmpi_oversubscribe=True)
    result = executors.submit(ex, resources, rescalls.rank_info, 1).result(timeout=30)
    assert [r["rank"] for r in result] == [0, 1]
    assert seen and all(call == (2, True) for call in seen)


# ---- the mpiexec command line ----------------------------------------------------------------------------------
@pytest.mark.parametrize("euid", [0, 1000])
def test_openmpi_command_has_oversubscribe_and_root_variables(monkeypatch, euid):
    monkeypatch.setattr(mpiexec, "find_mpiexec", lambda: ("mpiexec", "openmpi"))
    monkeypatch.setattr(mpiexec.os, "geteuid", lambda: euid)
    args, env = mpiexec.command(4, True)
    assert args[:3] == ["mpiexec", "-n", "4"]
    assert "--oversubscribe" in args
    assert args.index("--oversubscribe") < args.index(sys.executable), "an mpiexec option must come before the program"
    if euid == 0:
        assert env.get("OMPI_ALLOW_RUN_AS_ROOT") == "1"
        assert env.get("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM") == "1"
    else:
        assert "OMPI_ALLOW_RUN_AS_ROOT" not in env and "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM" not in env
    args, _ = mpiexec.command(4, False)
    assert "--oversubscribe" not in args


def test_mpich_command_adds_nothing_for_oversubscribe(monkeypatch):
    monkeypatch.setattr(mpiexec, "find_mpiexec", lambda: ("/x/mpiexec", "mpich"))
    monkeypatch.setattr(mpiexec.os, "geteuid", lambda: 0)
    monkeypatch.delenv("UCX_TLS", raising=False)
    monkeypatch.delenv("FI_PROVIDER", raising=False)
    with_flag, env_with = mpiexec.command(3, True)
    without_flag, env_without = mpiexec.command(3, False)
    assert with_flag == without_flag
    assert with_flag[:3] == ["/x/mpiexec", "-n", "3"], "no mpiexec.gforker beside it: Hydra's mpiexec"
    assert env_with == env_without == {"UCX_TLS": "self,sm", "FI_PROVIDER": "shm"}, "ranks use shared memory only"


def test_mpich_command_prefers_gforker_and_keeps_the_users_transport(monkeypatch, tmp_path):
    for name in ("mpiexec", "mpiexec.gforker"):
        (tmp_path / name).write_text("#!/bin/sh\n")
        (tmp_path / name).chmod(0o755)
    monkeypatch.setattr(mpiexec, "find_mpiexec", lambda: (str(tmp_path / "mpiexec"), "mpich"))
    monkeypatch.setenv("UCX_TLS", "tcp")
    monkeypatch.delenv("FI_PROVIDER", raising=False)
    args, env = mpiexec.command(2, False)
    assert args[:3] == [str(tmp_path / "mpiexec.gforker"), "-n", "2"]
    assert env == {"FI_PROVIDER": "shm"}, "a transport the user chose is left alone"


# ---- mpi4py missing ------------------------------------------------------------------------------------------------
@pytest.fixture
def no_mpi4py(monkeypatch):
    """Make ``mpi4py`` look uninstalled to the executor's check (and forget an earlier successful check)."""
    real = importlib.util.find_spec

    def find_spec(name, *args, **kwargs):
        if name == "mpi4py" or name.startswith("mpi4py."):
            return None
        return real(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    mpiexec.require_mpi.cache_clear()
    yield
    mpiexec.require_mpi.cache_clear()


def _assert_names_mpi_extra(error: BaseException) -> None:
    message = str(error)
    assert "mpi4py" in message
    assert "[mpi]" in message, f"the message should name the 'mpi' extra: {message!r}"


@pytest.mark.timeout(30)
def test_without_mpi4py_submit_raises_import_error_naming_the_extra(no_mpi4py):
    ex = SingleNodeExecutor(max_cores=2)
    try:
        with pytest.raises(ImportError) as caught:
            ex.submit(rescalls.quick, 1, resource_dict={"cores": 2})
        _assert_names_mpi_extra(caught.value)
        # a serial call is unaffected
        assert ex.submit(rescalls.quick, 5).result(timeout=20) == 5
    finally:
        shut_down_within(ex, 20.0)


@pytest.mark.timeout(30)
def test_without_mpi4py_block_executor_with_cores_raises_at_construction(no_mpi4py):
    with pytest.raises(ImportError) as caught:
        SingleNodeExecutor(max_cores=2, block_allocation=True, resource_dict={"cores": 2})
    _assert_names_mpi_extra(caught.value)


# ---- block allocation: max_workers workers of resource_dict's cores each (as executorlib) -------------------------
def _executorlib_on_path(monkeypatch):
    """executorlib's workers need mpiexec on PATH and this directory's helpers on PYTHONPATH."""
    import executorlib

    monkeypatch.setenv("PATH", os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    here = os.path.dirname(os.path.abspath(__file__))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")])))
    return executorlib.SingleNodeExecutor


@needs_mpi
@pytest.mark.parametrize("implementation", ["ours", "executorlib"])
@pytest.mark.parametrize("workers", [1, 2])
def test_block_max_workers_is_the_number_of_mpi_workers(monkeypatch, tmp_path, implementation, workers):
    cls = SingleNodeExecutor if implementation == "ours" else _executorlib_on_path(monkeypatch)
    with cls(max_workers=workers, block_allocation=True, resource_dict={"cores": 2}) as ex:
        assert ex.max_workers == workers and ex.info["max_workers"] == workers
        # Two calls that each wait (bounded) until both have started: they meet only if two workers run them.
        futures = [ex.submit(rescalls.rendezvous, str(tmp_path), me, 2, 3.0) for me in range(2)]
        results = [f.result(timeout=60) for f in futures]
        sizes = [ex.submit(rescalls.rank_info, 0).result(timeout=60) for _ in range(2)]
    assert all(len(per_rank) == 2 for per_rank in results), "each worker has 2 ranks"
    met = [per_rank[0]["met"] for per_rank in results]
    assert met == ([True, True] if workers == 2 else [False, True])
    assert all(r["size"] == 2 for per_rank in sizes for r in per_rank)


@needs_mpi
def test_large_arrays_reach_every_rank_and_come_back(executors):
    numpy = pytest.importorskip("numpy", reason="numpy (the test extra) is needed for array payloads")
    resources = {"cores": 2}
    ex = executors.make(resources, max_cores=2)
    x = numpy.arange(2_000_000, dtype=numpy.float64)
    result = executors.submit(ex, resources, rescalls.array_times_rank, x).result(timeout=60)
    assert len(result) == 2
    assert numpy.array_equal(result[0], x) and numpy.array_equal(result[1], 2 * x)


# ---- a local MPI job: loopback only, no secret in any rank's environment ------------------------------------------
def _process_tree(pid: int) -> list[int]:
    found = [pid]
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as children:
                for child in children.read().split():
                    found += _process_tree(int(child))
    except FileNotFoundError:  # it just exited
        pass
    return found


def _bound_sockets() -> dict[str, tuple[str, str]]:
    """inode -> (table, local address) of listening TCP sockets and bound UDP sockets of this host."""
    found = {}
    for table in ("tcp", "tcp6", "udp", "udp6"):
        try:
            with open(f"/proc/net/{table}") as lines:
                rows = lines.read().splitlines()[1:]
        except FileNotFoundError:
            continue
        for row in rows:
            fields = row.split()
            if table.startswith("udp") or fields[3] == "0A":  # 0A: LISTEN
                found[fields[9]] = (table, fields[1].rsplit(":", 1)[0])
    return found


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:["):
                inodes.add(link[len("socket:[") : -1])
    except FileNotFoundError:
        pass
    return inodes


_LOOPBACK = {"0100007F", "00000000000000000000000001000000"}  # 127.0.0.1, ::1 as /proc/net/tcp* writes them


@needs_mpi
def test_a_local_mpi_job_listens_on_loopback_only_and_no_rank_environment_holds_the_secret(tmp_path):
    import base64

    started, go = tmp_path / "started", tmp_path / "go"
    ex = SingleNodeExecutor(max_cores=2)
    try:
        running = ex.submit(rescalls.started_then_wait, str(started), str(go), resource_dict={"cores": 2})
        rescalls.wait_for(str(started))
        pool = ex._scheduler.pool
        secret = pool.channel._framer._key
        job = [pid for pid in _process_tree(os.getpid()) if pid != os.getpid()]
        commands = {pid: open(f"/proc/{pid}/cmdline", "rb").read() for pid in job}
        ranks = [p for p, c in commands.items() if c.startswith(sys.executable.encode()) and b"executor.worker.mpi" in c]
        assert len(ranks) == 2, commands
        sockets = _bound_sockets()
        exposed = {pid: sockets[i] for pid in job for i in _socket_inodes(pid) if i in sockets}
        beyond_loopback = {pid: where for pid, where in exposed.items() if where[1] not in _LOOPBACK}
        assert not beyond_loopback, f"listening beyond loopback: {beyond_loopback} ({commands})"
        encodings = [secret, secret.hex().encode(), base64.b64encode(secret), base64.urlsafe_b64encode(secret)]
        for pid in job:
            for kind in ("environ", "cmdline"):
                with open(f"/proc/{pid}/{kind}", "rb") as file:
                    text = file.read()
                assert not any(e in text for e in encodings), f"the secret is in /proc/{pid}/{kind} ({commands[pid]!r})"
        spawner_dirs = {s._dir for s in pool.spawners if hasattr(s, "key_in_file")}
        assert spawner_dirs and not [n for d in spawner_dirs for n in os.listdir(d) if n.endswith(".key")], (
            "rank 0 removes the key file once it has read it"
        )
        go.touch()
        assert running.result(timeout=30) == [os.getcwd(), os.getcwd()]
    finally:
        go.touch()
        shut_down_within(ex, 20.0)
