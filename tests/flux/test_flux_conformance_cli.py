"""flux-core 0.88's commands (shared/notes/flux-api.md §10, §13), run against the mock and a real instance:
``flux run`` exit codes and messages, ``submit``, ``batch`` (directives, dependencies, environment),
``jobs`` (header, columns, codes, order), ``cancel``, ``job id``, the job environment, MPI, ``flux start``."""

from __future__ import annotations

import importlib.util
import re
import sys

import pytest

from flux_target import Target

HEADER = "       JOBID USER     NAME       ST NTASKS NNODES     TIME INFO"
F58 = r"[ƒf][1-9A-HJ-NP-Za-km-z]+"


def test_run_exit_codes_and_messages(flux_target: Target) -> None:
    ok = flux_target.run("flux", "run", "-n2", "sh", "-c", "echo rank $FLUX_TASK_RANK")
    assert ok.returncode == 0 and sorted(ok.stdout.split("\n")[:2]) == ["rank 0", "rank 1"]
    failed = flux_target.run("flux", "run", "sh", "-c", "exit 3")
    assert failed.returncode == 3 and "flux-job: task(s) exited with exit code 3" in failed.stderr
    killed = flux_target.run("flux", "run", "sh", "-c", "kill -9 $$")
    assert killed.returncode == 137 and "flux-job: task(s) Killed" in killed.stderr
    missing = flux_target.run("flux", "run", "no-such-program")
    assert missing.returncode == 127
    assert re.search(r"flux-shell\[0\]: FATAL: task 0 \(host .*\): start failed: no-such-program: "
                     r"No such file or directory", missing.stderr)
    assert re.search(r"job\.exception type=exec severity=0", missing.stderr)
    too_big = flux_target.run("flux", "run", "-n", str(flux_target.ncores + 1), "true")
    assert too_big.returncode == 1
    assert re.search(r"type=alloc severity=0 unsatisfiable request: need \d+ slot\(s\) of 1 core\(s\)", too_big.stderr)
    assert "task(s)" not in too_big.stderr


def test_run_time_limit(flux_target: Target) -> None:
    out = flux_target.run("flux", "run", "-t", "1s", "sleep", "30")
    assert out.returncode == 142 and "Alarm clock" in out.stderr
    assert "type=timeout severity=0 resource allocation expired" in out.stderr


def test_job_environment(flux_target: Target) -> None:
    out = flux_target.run("flux", "run", "-n2", "sh", "-c",
                          "echo $FLUX_TASK_RANK $FLUX_JOB_SIZE $FLUX_JOB_ID $FLUX_KVS_NAMESPACE $FLUX_URI "
                          "$FLUX_JOB_NNODES $FLUX_TASK_LOCAL_ID")
    lines = sorted(out.stdout.splitlines())
    assert out.returncode == 0 and len(lines) == 2
    rank0, rank1 = (line.split() for line in lines)
    assert rank0[0] == "0" and rank1[0] == "1" and rank0[1] == rank1[1] == "2"
    from flux.job import JobID

    jobid = JobID(rank0[2])
    assert rank0[3] == f"job-{int(jobid)}" and rank0[4] == flux_target.env["FLUX_URI"] and rank0[5] == "1"


@pytest.mark.skipif(importlib.util.find_spec("mpi4py") is None, reason="mpi4py not installed (the mpi extra)")
def test_run_gives_one_mpi_comm_world(flux_target: Target) -> None:
    # One write() per rank: the mock's tasks share one output descriptor (real flux forwards each task's lines
    # whole), so print()'s separate write of "\n" under PYTHONUNBUFFERED=1 could interleave there (known, open).
    code = "import sys; from mpi4py import MPI; c = MPI.COMM_WORLD; sys.stdout.write(f'{c.Get_rank()} {c.Get_size()}\\n')"
    out = flux_target.run("flux", "run", "-n", "2", sys.executable, "-c", code, timeout=120)
    assert out.returncode == 0, out.stderr
    assert sorted(out.stdout.splitlines()) == ["0 2", "1 2"]


def test_submit_prints_the_id_and_jobs_lists_it(flux_target: Target) -> None:
    out = flux_target.run("flux", "submit", "--job-name=a_very_long_name", "sleep", "30")
    assert out.returncode == 0 and re.fullmatch(F58 + "\n", out.stdout)
    jobid = out.stdout.strip()
    held = flux_target.run("flux", "submit", "--urgency=hold", "true").stdout.strip()
    listing = flux_target.run("flux", "jobs")
    lines = listing.stdout.splitlines()
    assert listing.returncode == 0 and lines[0] == HEADER
    running = next(line for line in lines if line.split()[0] == jobid)
    assert running.split()[2:6] == ["a_very_lo+", "R", "1", "1"]  # NAME cut to 9 characters and "+"
    held_line = next(line for line in lines if line.split()[0] == held)
    assert held_line.split()[3] == "S" and held_line.endswith(" held")
    assert len(lines[1].split()[0]) <= 12 and lines[1][:12].strip() == lines[1].split()[0]
    assert flux_target.run("flux", "cancel", jobid, held).returncode == 0
    again = flux_target.run("flux", "cancel", jobid)
    assert again.returncode == 1 and again.stderr == f"flux-cancel: ERROR: {jobid}: job is inactive\n"
    unknown = flux_target.run("flux", "cancel", "1")
    assert unknown.returncode == 1 and re.fullmatch(r"flux-cancel: ERROR: [ƒf]2: unknown job id\n", unknown.stderr)
    assert flux_target.run("flux", "cancel", "abc").returncode == 2


def test_jobs_status_codes_and_order(flux_target: Target) -> None:
    done = flux_target.run("flux", "submit", "true").stdout.strip()
    flux_target.run("flux", "run", "sh", "-c", "exit 1")
    flux_target.run("flux", "run", "-t", "1s", "sleep", "30")
    cancelled = flux_target.run("flux", "submit", "--urgency=hold", "sleep", "30").stdout.strip()
    flux_target.run("flux", "cancel", cancelled)
    flux_target.run("flux", "run", "true")  # done is certainly finished by now
    lines = flux_target.run("flux", "jobs", "-a", "--no-header").stdout.splitlines()
    codes = [line.split()[3] for line in lines]
    assert codes[0] == "CD" and set(codes) == {"CD", "F", "TO", "CA"}
    line = next(line for line in lines if line.split()[0] == cancelled)
    assert re.fullmatch(r"\s*" + F58 + r" \S+\s+sleep\s+CA\s+1\s+-\s+- ", line)
    assert any(line.split()[0] == done and line.split()[3] == "CD" for line in lines)
    assert flux_target.run("flux", "jobs").stdout.splitlines() == [HEADER]


def test_job_id_conversions(flux_target: Target) -> None:
    def conv(to: str, value: str) -> str:
        return flux_target.run("flux", "job", "id", f"--to={to}", value).stdout.strip()

    assert conv("dec", "ƒ2Z41Noq") == "59106131968"
    assert conv("hex", "59106131968") == "0xdc3000000"
    assert conv("dothex", "ƒ96y5LK") == "0000.0001.3d00.0000"
    assert conv("kvs", "5318377472") == "job.0000.0001.3d00.0000"
    assert conv("f58", "job.0000.0001.3d00.0000")[1:] == "96y5LK"
    bad = flux_target.run("flux", "job", "id", "abc")
    assert bad.returncode == 1 and bad.stderr == "flux-job: abc: malformed input\n"


def test_batch(flux_target: Target) -> None:
    script = flux_target.cwd / "job.sh"
    script.write_text("#!/bin/sh\n# flux: --job-name=batchy\n# flux: --nslots=1\n# flux: --output=out.txt\n"
                      "echo id=${FLUX_JOB_ID:-unset} enclosing=$FLUX_ENCLOSING_ID\nflux jobs -a --no-header | wc -l\n")
    out = flux_target.run("flux", "batch", "job.sh")
    assert out.returncode == 0 and re.fullmatch(F58 + "\n", out.stdout) and out.stderr == ""
    jobid = out.stdout.strip()
    flux_target.run("flux", "run", "--dependency=afterany:" + jobid, "true")
    text = (flux_target.cwd / "out.txt").read_text().split()
    assert text == ["id=unset", f"enclosing={jobid}", "0"]
    line = next(line for line in flux_target.run("flux", "jobs", "-a").stdout.splitlines() if jobid in line)
    assert line.split()[2:4] == ["batchy", "CD"]
    noslots = flux_target.cwd / "noslots.sh"
    noslots.write_text("#!/bin/sh\ntrue\n")
    out = flux_target.run("flux", "batch", "noslots.sh")
    assert out.returncode == 1 and "Number of slots to allocate must be specified" in out.stderr
    out = flux_target.run("flux", "batch", "-n1", "nonexist.sh")
    assert out.returncode == 1 and "No such file or directory: 'nonexist.sh'" in out.stderr


def test_dependencies(flux_target: Target) -> None:
    failed = flux_target.run("flux", "submit", "sh", "-c", "exit 1").stdout.strip()
    flux_target.run("flux", "run", "--dependency=afterany:" + failed, "true")
    out = flux_target.run("flux", "submit", "--dependency=afterok:" + failed, "true")
    assert out.returncode == 1
    assert out.stderr == f"[Errno 22] dependency: afterok: job {failed} failed or was canceled\n"
    out = flux_target.run("flux", "run", "--dependency=afterok:" + failed, "true")
    assert out.returncode == 1 and out.stderr.startswith("flux-run: ERROR: ")
    parent = flux_target.run("flux", "submit", "--urgency=hold", "true").stdout.strip()
    child = flux_target.run("flux", "submit", "--dependency=afterok:" + parent, "true").stdout.strip()
    line = next(line for line in flux_target.run("flux", "jobs").stdout.splitlines() if child in line)
    assert line.split()[3] == "D" and line.endswith(f"depends:after-success={parent}")
    flux_target.run("flux", "cancel", parent)
    import flux
    import flux.job

    info = flux.job.result(flux.Flux(), flux.job.JobID(child))
    assert info.result == "FAILED"
    exc = flux.job.event_wait(flux.Flux(), flux.job.JobID(child), "exception", raiseJobException=False)
    assert exc.context["type"] == "dependency" and parent in exc.context["note"]


def test_start_exit_status_and_failure_lines(flux_target: Target) -> None:
    env = {k: v for k, v in flux_target.env.items() if k != "FLUX_URI"}
    ok = flux_target.run("flux", "start", "sh", "-c", "flux run true && echo $FLUX_URI", env=env)
    assert ok.returncode == 0 and ok.stdout.startswith("local://") and ok.stdout.strip().endswith("/local-0")
    bad = flux_target.run("flux", "start", "sh", "-c", "exit 5", env=env)
    assert bad.returncode == 5
    assert re.search(r"broker\.err\[0\]: rc2\.0: sh -c exit 5 Exited \(rc=5\) \d+\.\ds", bad.stderr)
    assert re.search(r"flux-start: 0 \(pid \d+\) exited with rc=5", bad.stderr)
