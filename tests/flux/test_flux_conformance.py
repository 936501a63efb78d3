"""flux-core 0.88's behaviour, as recorded in shared/notes/flux-api.md, stated once and run against the mock
(param ``mock``) and -- when this process runs inside a real instance with the real bindings -- against real
flux (param ``real``, skipped with the reason otherwise).  Shape-dependent numbers come from the instance."""

from __future__ import annotations

import os
import re
import signal

import pytest

from flux_target import Target

EVENTS_OF_A_NORMAL_JOB = ["submit", "validate", "depend", "priority", "alloc", "start", "finish", "release", "free",
                          "clean"]


def _names(handle: object, jobid: int) -> list[str]:
    import flux.job

    return [e.name for e in flux.job.event_watch(handle, jobid)]


# --- JobID --------------------------------------------------------------------------------------------------


def test_jobid_test_vectors(flux_target: Target) -> None:
    from flux.job import JobID

    big = JobID("ƒ2Z41Noq")
    assert big == 59106131968 == JobID("0xdc3000000") == JobID("59106131968") == JobID("f2Z41Noq")
    assert big.hex == "0xdc3000000" and big.dec == "59106131968" and isinstance(big.dec, str)
    small = JobID(5318377472)
    assert small.f58plain == "96y5LK"
    assert small.dothex == "0000.0001.3d00.0000" and small.kvs == "job.0000.0001.3d00.0000"
    assert JobID("job.0000.0001.3d00.0000") == JobID("0000.0001.3d00.0000") == small
    assert JobID(1).f58plain == "2"
    assert repr(big) == "JobID(59106131968)" and "%d" % big == "59106131968"
    assert f"{big}" == str(big) == big.f58 and big.f58[1:] == "2Z41Noq" and big.f58[0] in ("ƒ", "f")
    assert JobID("ƒ96y5LK").orig == "ƒ96y5LK"


def test_jobid_rejects_bad_values(flux_target: Target) -> None:
    from flux.job import JobID

    with pytest.raises(ValueError, match="abc is not a valid Flux jobid"):
        JobID("abc")
    with pytest.raises(OverflowError):
        JobID(-1)


def test_f58_prefix_is_ascii_when_forced(flux_target: Target, monkeypatch: pytest.MonkeyPatch) -> None:
    from flux.job import JobID

    monkeypatch.setenv("FLUX_F58_FORCE_ASCII", "1")
    assert JobID(59106131968).f58 == "f2Z41Noq"


# --- JobspecV1 ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"num_tasks": 0}, "task count must be a integer >= 1"),
    ({"num_tasks": 1.5}, "task count must be a integer >= 1"),
    ({"cores_per_task": 0}, "cores per task must be an integer >= 1"),
    ({"gpus_per_task": -1}, "gpus per task must be an integer >= 0"),
    ({"num_nodes": 0}, "node count must be an integer >= 1 (if set)"),
    ({"num_tasks": 1, "num_nodes": 2}, "node count must not be greater than task count"),
    ({"exclusive": True}, "exclusive can only be set with a node count"),
])
def test_jobspec_validation_messages(flux_target: Target, kwargs: dict[str, object], message: str) -> None:
    from flux.job import JobspecV1

    with pytest.raises(ValueError, match=re.escape(message)):
        JobspecV1.from_command(["true"], **kwargs)  # type: ignore[arg-type]


def test_jobspec_resources_tasks_and_setters(flux_target: Target, tmp_path: os.PathLike[str]) -> None:
    from flux.job import JobspecV1

    spec = JobspecV1.from_command(["hostname"], num_tasks=3, cores_per_task=2, num_nodes=2, exclusive=True)
    node = spec.resources[0]
    assert node["type"] == "node" and node["count"] == 2 and node["exclusive"] is True
    assert node["with"][0]["count"] == 2 and node["with"][0]["with"] == [{"type": "core", "count": 2}]
    assert spec.tasks == [{"command": ["hostname"], "slot": "task", "count": {"total": 3}}]
    assert spec.environment == dict(os.environ)
    spec.duration = "2m"
    assert spec.attributes["system"]["duration"] == 120.0
    spec.cwd = tmp_path
    assert spec.cwd == os.fspath(tmp_path)
    spec.setattr_shell_option("pmi", "pmi2")
    assert spec.attributes["system"]["shell"]["options"]["pmi"] == "pmi2"
    spec.stdout = "out.txt"
    assert spec.attributes["system"]["shell"]["options"]["output"]["stdout"] == {"type": "file", "path": "out.txt"}
    with pytest.raises(ValueError, match="invalid Flux standard duration"):
        spec.duration = "abc"
    with pytest.raises(TypeError, match="duration must be an int, float, string, or timedelta"):
        spec.duration = [1]
    with pytest.raises(ValueError, match="cwd must be a string"):
        spec.cwd = 5
    with pytest.raises(ValueError, match="environment must be a mapping"):
        spec.environment = ["A=1"]
    with pytest.raises(KeyError):
        spec.getattr("no.such.key")


def test_nest_command_runs_a_broker_without_mpi(flux_target: Target) -> None:
    from flux.job import JobspecV1

    spec = JobspecV1.from_nest_command(["python", "x.py"], num_slots=2)
    assert spec.tasks[0]["command"] == ["flux", "broker", "python", "x.py"]
    options = spec.attributes["system"]["shell"]["options"]
    assert options["per-resource"] == {"type": "node"} and options["mpi"] == "none"
    assert options["exit-timeout"] == "none"
    with pytest.raises(ValueError, match="command array cannot have length of zero"):
        JobspecV1.from_command([])


# --- outside an instance ----------------------------------------------------------------------------------


def test_outside_an_instance_handle_and_commands_fail(flux_target: Target, monkeypatch: pytest.MonkeyPatch) -> None:
    import flux
    import flux.job

    monkeypatch.delenv("FLUX_URI")
    message = "Unable to connect to Flux: broker socket /run/flux/local was not found"
    with pytest.raises(FileNotFoundError, match=message):
        flux.Flux()
    with pytest.raises(FileNotFoundError, match=message):
        flux.job.FluxExecutor()
    env = {k: v for k, v in flux_target.env.items() if k != "FLUX_URI"}
    out = flux_target.run("flux", "jobs", env=env)
    assert out.returncode == 1 and out.stderr == f"flux-jobs: ERROR: {message}\n"
    assert flux_target.run("flux", "job", "id", "--to=f58", "1", env=env).stdout.strip()[1:] == "2"


# --- events, results, exceptions ------------------------------------------------------------------------


def test_eventlog_of_a_normal_job_and_its_result(flux_target: Target) -> None:
    import flux
    import flux.job

    handle = flux.Flux()
    jobid = flux.job.submit(handle, flux.job.JobspecV1.from_command(["sh", "-c", "exit 3"]))
    info = flux.job.result(handle, jobid)
    assert (info.result, info.returncode, info.result_id) == ("FAILED", 3, 2)
    events = list(flux.job.event_watch(handle, jobid))
    assert [e.name for e in events] == EVENTS_OF_A_NORMAL_JOB
    by_name = {e.name: e for e in events}
    assert by_name["finish"].context["status"] == 3 << 8
    assert by_name["release"].context == {"ranks": "all", "final": True}
    assert by_name["priority"].context == {"priority": 16}
    assert by_name["alloc"].context["annotations"]["sched"]["resource_summary"].startswith("rank0/core")
    assert flux.job.event_wait(handle, jobid, "start").name == "start"
    with pytest.raises(OSError) as err:
        flux.job.event_wait(handle, jobid, "debug")
    assert err.value.errno == 61  # ENODATA: the log ended without the event


def test_unsatisfiable_request_is_an_alloc_exception(flux_target: Target) -> None:
    import flux
    import flux.job

    ncores = flux_target.ncores
    need = ncores + 1
    with flux.job.FluxExecutor() as executor:
        fut = executor.submit(flux.job.JobspecV1.from_command(["true"], num_tasks=need))
        with pytest.raises(flux.job.event.JobException) as err:
            fut.result(timeout=60)
    note = (f"unsatisfiable request: need {need} slot(s) of 1 core(s), only {ncores} such slot(s) available "
            f"(total cores: {ncores})")
    assert str(err.value) == f"job.exception: type=alloc: {note}"
    assert (err.value.type, err.value.note, err.value.severity) == ("alloc", note, 0)
    handle = flux.Flux()
    info = flux.job.result(handle, fut.jobid())
    assert (info.result, info.returncode, info.waitstatus) == ("FAILED", 1, "")
    names = _names(handle, fut.jobid())
    assert names[0] == "submit" and names[-2:] == ["exception", "clean"] and "alloc" not in names


def test_cancel_pending_and_running_jobs(flux_target: Target) -> None:
    import flux
    import flux.job

    handle = flux.Flux()
    held = flux.job.submit(handle, flux.job.JobspecV1.from_command(["true"]), urgency=0)
    flux.job.cancel(handle, held)
    info = flux.job.result(handle, held)
    assert (info.result, info.result_id, info.returncode, info.waitstatus, info.runtime) == ("CANCELED", 4, -128, "", 0.0)
    running = flux.job.submit(handle, flux.job.JobspecV1.from_command(["sleep", "30"]))
    flux.job.event_wait(handle, running, "start")
    flux.job.cancel(handle, running)
    info = flux.job.result(handle, running)
    assert (info.result, info.returncode) == ("CANCELED", 143)
    exc = flux.job.event_wait(handle, running, "exception", raiseJobException=False)
    assert (exc.context["type"], exc.context["severity"]) == ("cancel", 0)
    with pytest.raises(FileNotFoundError):
        flux.job.cancel(handle, running)  # inactive
    with pytest.raises(FileNotFoundError):
        flux.job.cancel(handle, 1)  # unknown


def test_time_limit_and_kill(flux_target: Target) -> None:
    import flux
    import flux.job

    handle = flux.Flux()
    spec = flux.job.JobspecV1.from_command(["sleep", "30"])
    spec.duration = 1
    limited = flux.job.submit(handle, spec)
    info = flux.job.result(handle, limited)
    assert (info.result, info.returncode) == ("TIMEOUT", 142)
    exc = flux.job.event_wait(handle, limited, "exception", raiseJobException=False)
    assert exc.context["type"] == "timeout" and exc.context["note"] == "resource allocation expired"
    killed = flux.job.submit(handle, flux.job.JobspecV1.from_command(["sleep", "30"]))
    flux.job.event_wait(handle, killed, "start")
    flux.job.kill(handle, killed, signal.SIGKILL)
    info = flux.job.result(handle, killed)
    assert (info.result, info.returncode) == ("FAILED", 137)


def test_waitable_job(flux_target: Target) -> None:
    import flux
    import flux.job

    handle = flux.Flux()
    jobid = flux.job.submit(handle, flux.job.JobspecV1.from_command(["sh", "-c", "exit 2"]), waitable=True)
    result = flux.job.wait(handle, jobid)
    assert (result.jobid, result.success, result.errstr) == (jobid, False, b"task(s) exited with exit code 2")


# --- FluxExecutor -----------------------------------------------------------------------------------------


def test_flux_executor_future(flux_target: Target) -> None:
    import flux.job

    seen: list[str] = []
    with flux.job.FluxExecutor() as executor:
        fut = executor.submit(flux.job.JobspecV1.from_command(["sh", "-c", "exit 4"]))
        assert isinstance(fut.jobid(timeout=60), flux.job.JobID)
        assert fut.result(timeout=60) == 4
        fut.add_event_callback("start", lambda f, e: seen.append(e.name))  # replayed: already happened
        assert seen == ["start"]
        with pytest.raises(ValueError):
            fut.add_event_callback("validate", lambda f, e: None)
        assert fut.add_done_callback(lambda f: None) is fut
        bad = executor.submit(flux.job.JobspecV1.from_command(["true"]), urgency=40)
        with pytest.raises(RuntimeError, match=re.escape(
                "job could not be submitted due to OSError(22, 'urgency range is [0:31]')")):
            bad.jobid(timeout=60)
        with pytest.raises(OSError, match=re.escape("urgency range is [0:31]")):
            bad.result(timeout=60)
        running = executor.submit(flux.job.JobspecV1.from_command(["sleep", "30"]))
        started = running.jobid(timeout=60)
        assert running.cancel() is False  # a submitted job is not cancelled by Future.cancel()
        flux.job.cancel(flux.Flux(), started)
        with pytest.raises(flux.job.event.JobException, match="type=cancel"):
            running.result(timeout=60)
    with pytest.raises(RuntimeError, match="cannot schedule new futures after shutdown"):
        executor.submit(flux.job.JobspecV1.from_command(["true"]))


def test_waiting_inside_a_callback_is_an_error(flux_target: Target) -> None:
    import flux.job

    errors: list[str] = []

    def callback(fut: flux.job.FluxExecutorFuture) -> None:
        try:
            fut.result()
        except RuntimeError as exc:
            errors.append(str(exc))

    with flux.job.FluxExecutor() as executor:
        fut = executor.submit(flux.job.JobspecV1.from_command(["true"]))
        fut.add_done_callback(callback)
        fut.result(timeout=60)
    assert errors == ["Cannot wait for future from inside callback"]


def test_resource_list(flux_target: Target) -> None:
    import flux
    import flux.resource.list

    resources = flux.resource.list.resource_list(flux.Flux()).get()
    assert resources.up.ncores == resources.all.ncores - resources.down.ncores >= 1
    assert resources.free.ncores <= resources.up.ncores and resources.up.nnodes >= 1
