"""The mock flux's own promises: the control API (hold/release, faults, call log, job table), ``xlib mock-env
flux`` + ``flux start``, cleanup (no process outlives the instance), concurrency, the fixture's shape marker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from pytest_executorlib.mocks.flux import MockFlux


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for PID 1 of a container to reap it does not count)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _run(mock: MockFlux, *argv: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=60, env=mock.environ(), cwd=cwd)


@pytest.mark.mock_flux(nodes=2, cores_per_node=3, gpus_per_node=1)
def test_fixture_shape_and_resources(mock_flux: MockFlux) -> None:
    import flux
    import flux.resource.list

    up = flux.resource.list.resource_list(flux.Flux()).get().up
    assert (up.nnodes, up.ncores, up.ngpus) == (2, 6, 2)
    out = _run(mock_flux, "flux", "run", "-N2", "-n2", "-g1", "sh", "-c", "echo $CUDA_VISIBLE_DEVICES")
    assert out.returncode == 0 and out.stdout.split() == ["0", "0"]
    assert mock_flux.jobs()[-1].nnodes == 2


def test_hold_new_jobs_and_release(mock_flux: MockFlux) -> None:
    mock_flux.hold_new_jobs()
    jobid = _run(mock_flux, "flux", "submit", "true").stdout.strip()
    job = mock_flux.wait(jobid, until=lambda j: j.state == "SCHED")
    assert job.held and "alloc" not in job.events
    line = _run(mock_flux, "flux", "jobs").stdout.splitlines()[1]
    assert line.split()[3] == "S" and line.endswith("held")
    mock_flux.release()
    assert mock_flux.wait(jobid).result == "COMPLETED"
    mock_flux.hold_new_jobs(False)
    assert _run(mock_flux, "flux", "run", "true").returncode == 0


@pytest.mark.parametrize(("kind", "value", "result", "exception", "code"), [
    ("exit", 3, "FAILED", "", 3),
    ("no_output", None, "FAILED", "", 137),
    ("timeout", 0, "TIMEOUT", "timeout", 142),
    ("nodefail", 0, "FAILED", "exec", 137),
])
def test_faults(mock_flux: MockFlux, kind: str, value: int | None, result: str, exception: str, code: int) -> None:
    mock_flux.hold_new_jobs()
    jobid = _run(mock_flux, "flux", "submit", "sleep", "30").stdout.strip()
    mock_flux.wait(jobid, until=lambda j: j.state == "SCHED")
    mock_flux.fault(jobid, kind, value)
    mock_flux.release(jobid)
    job = mock_flux.wait(jobid)
    assert (job.result, job.exception, (job.waitstatus or 0) >> 8) == (result, exception, code)
    assert job.events[-1] == "clean"


def test_fault_next_reject_and_bad_faults(mock_flux: MockFlux) -> None:
    import flux
    import flux.job

    mock_flux.fault_next("reject", "queue is closed")
    with pytest.raises(OSError, match="queue is closed"):
        flux.job.submit(flux.Flux(), flux.job.JobspecV1.from_command(["true"]))
    assert mock_flux.jobs() == []  # no job id used
    out = _run(mock_flux, "flux", "run", "true")
    assert out.returncode == 0
    with pytest.raises(ValueError, match="unknown fault 'reject'; accepted: exit, nodefail, timeout, no_output"):
        mock_flux.fault(mock_flux.jobs()[0].id, "reject")
    with pytest.raises(ValueError, match="exit code 1..255"):
        mock_flux.fault_next("exit", 0)


def test_call_log(mock_flux: MockFlux, tmp_path: Path) -> None:
    _run(mock_flux, "flux", "jobs", "-a", cwd=tmp_path)
    _run(mock_flux, "flux", "run", "true", cwd=tmp_path)
    calls = mock_flux.calls()
    assert [c.argv for c in calls] == [["jobs", "-a"], ["run", "true"]]
    assert calls[0].command == "flux" and calls[0].cwd == str(tmp_path)
    assert [c.argv for c in mock_flux.calls("run")] == [["run", "true"]]


def test_exit_cancels_jobs_and_leaves_no_process(tmp_path: Path) -> None:
    with MockFlux(tmp_path / "flux") as mock:
        token = f"xlib-test-{os.getpid()}-{time.time_ns()}"
        proc = subprocess.Popen(["flux", "submit", "sh", "-c", f"sleep 300; echo {token}"], env=mock.environ(),
                                stdout=subprocess.PIPE, text=True)
        jobid = proc.communicate(timeout=60)[0].strip()
        mock.wait(jobid, until=lambda j: "start" in j.events)
        shells = subprocess.run(["pgrep", "-f", token], capture_output=True, text=True).stdout.split()
        children = subprocess.run(["pgrep", "-P", ",".join(shells)], capture_output=True, text=True).stdout.split()
        pids = shells + children
        assert len(pids) == 2  # the task's shell and its sleep
    job = mock.job(jobid)
    assert job.result == "CANCELED" and job.exception == "cancel"
    assert [pid for pid in pids if _alive(int(pid))] == []
    assert not (tmp_path / "flux" / "local-0").exists()
    out = subprocess.run(["flux", "jobs"], env=mock.environ(), capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and "Unable to connect to Flux" in out.stderr


def test_broker_stops_when_its_owner_dies(tmp_path: Path) -> None:
    code = ("import sys, time; from pytest_executorlib.mocks.flux import MockFlux; m = MockFlux(sys.argv[1]); "
            "m.__enter__(); print(m.uri, flush=True); time.sleep(300)")
    owner = subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "flux")], stdout=subprocess.PIPE, text=True)
    try:
        assert owner.stdout is not None and owner.stdout.readline().startswith("local://")
    finally:
        owner.send_signal(signal.SIGKILL)
        owner.wait()
    deadline = time.monotonic() + 30
    while (tmp_path / "flux" / "local-0").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not (tmp_path / "flux" / "local-0").exists()


def test_concurrent_submissions_lose_no_job(mock_flux: MockFlux) -> None:
    with ThreadPoolExecutor(8) as pool:
        outs = list(pool.map(lambda _: _run(mock_flux, "flux", "submit", "true"), range(30)))
    ids = [o.stdout.strip() for o in outs]
    assert all(o.returncode == 0 for o in outs) and len(set(ids)) == 30
    for jobid in ids:
        assert mock_flux.wait(jobid).result == "COMPLETED"
    assert sorted(int(j.id) for j in mock_flux.jobs()) == [int(j.id) for j in mock_flux.jobs()]


def test_mock_env_and_flux_start_run_a_pytest_suite(tmp_path: Path) -> None:
    suite = tmp_path / "test_inside.py"
    suite.write_text(
        "import flux, flux.job\n"
        "def test_inside():\n"
        "    h = flux.Flux()\n"
        "    assert flux.resource.list.resource_list(h).get().up.ncores == 6\n"
        "    fut = flux.job.FluxExecutor().submit(flux.job.JobspecV1.from_command(['true']))\n"
        "    assert fut.result(timeout=60) == 0\n")
    script = (f'eval "$({sys.executable} -m executor.cli.main mock-env flux --nodes 2 --cores-per-node 3)" && '
              f"flux start {sys.executable} -m pytest -q -p no:cacheprovider -p no:executorlib {suite}")
    env = {k: v for k, v in os.environ.items() if k not in ("FLUX_URI", "PYTHONPATH")}
    env["TMPDIR"] = str(tmp_path)  # where flux start creates its instance (it must be gone afterwards)
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "1 passed" in out.stdout
    assert list(tmp_path.glob("flux-*")) == []
    outside = subprocess.run(["bash", "-c", f'eval "$({sys.executable} -m executor.cli.main mock-env flux)" && '
                              "flux jobs"], capture_output=True, text=True, timeout=60, env=env)
    assert outside.returncode == 1
    assert outside.stderr == ("flux-jobs: ERROR: Unable to connect to Flux: broker socket /run/flux/local "
                              "was not found\n")


def test_bad_shape_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cores_per_node must be an int >= 1, got 0"):
        MockFlux(tmp_path / "flux", cores_per_node=0)


def test_a_killed_broker_ends_waits_with_a_clear_error_and_its_tasks(tmp_path: Path) -> None:
    mock = MockFlux(tmp_path / "flux")
    with mock:
        mock.activate()
        import flux
        import flux.job

        handle = flux.Flux()
        jobid = flux.job.submit(handle, flux.job.JobspecV1.from_command(["sleep", "300"]))
        flux.job.event_wait(handle, jobid, "start")
        assert mock._broker is not None
        token = f"xlib-test-{os.getpid()}-{time.time_ns()}"
        task = flux.job.submit(handle, flux.job.JobspecV1.from_command(["sh", "-c", f"sleep 300; echo {token}"]))
        flux.job.event_wait(handle, task, "start")
        # The shell forks a copy of itself (same command line, token included) that becomes `sleep` at exec:
        # take the oldest match, then wait (bounded) until its child has exec'ed sleep.
        shell = subprocess.run(["pgrep", "-o", "-f", token], capture_output=True, text=True).stdout.split()
        assert len(shell) == 1
        deadline = time.monotonic() + 10
        while True:
            sleep = subprocess.run(["pgrep", "-x", "-P", shell[0], "sleep"], capture_output=True, text=True).stdout.split()
            if sleep or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert len(sleep) == 1
        mock._broker.kill()  # SIGKILL: no shutdown, no cleanup by the broker
        with pytest.raises(ConnectionResetError, match="has shut down while waiting for job"):
            flux.job.result(handle, jobid)
        deadline = time.monotonic() + 10
        while _alive(int(shell[0])) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(int(shell[0]))  # the task died with its broker
    deadline = time.monotonic() + 10
    while _alive(int(sleep[0])) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(int(sleep[0]))  # and what it started, when the MockFlux context ended


def test_one_handle_shared_by_threads(mock_flux: MockFlux) -> None:
    import flux
    import flux.job

    handle = flux.Flux()
    spec = flux.job.JobspecV1.from_command(["true"])
    with ThreadPoolExecutor(6) as pool:
        ids = list(pool.map(lambda _: flux.job.submit(handle, spec), range(24)))
        infos = list(pool.map(lambda jobid: flux.job.result(handle, jobid), ids))
    assert len(set(ids)) == 24 and {i.result for i in infos} == {"COMPLETED"}
