"""Starting a job's tasks, as flux's job shell does: environment, output files, PMI, one process group.

The mock has no separate job shell: the broker starts the tasks itself (:func:`start`), so a job starts a few
milliseconds after its ``alloc``.  What a task sees follows flux-core 0.88's shell (``shell.c``, ``task.c``):
``FLUX_URI`` (the enclosing instance), ``FLUX_JOB_ID`` (f58), ``FLUX_JOB_ID_PATH``, ``FLUX_JOB_SIZE``,
``FLUX_JOB_NNODES``, ``FLUX_JOB_TMPDIR`` (created, removed at the end), ``FLUX_KVS_NAMESPACE``,
``FLUX_TERMINUS_SESSION``, ``FLUX_TASK_RANK``, ``FLUX_TASK_LOCAL_ID``, ``FLUX_PYTHONPATH_ORIG``,
``CUDA_VISIBLE_DEVICES`` (``-1`` without GPUs), and for simple PMI ``PMI_FD``/``PMI_RANK``/``PMI_SIZE`` served
by the PMI-1 server both mocks share (:class:`pytest_executorlib.mocks.pmi.PMIServer`), so ``flux run -n N``
ranks form one MPI ``COMM_WORLD`` of N.  A batch or nested job's ``flux broker`` command is our ``flux`` shim
with the allocation in ``XLIB_MOCK_FLUX_ALLOC``.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

from pytest_executorlib.mocks.flux import resources
from pytest_executorlib.mocks.flux.jobid import encode
from pytest_executorlib.mocks.pmi import PMIServer


class Running:
    """A started job: its tasks (pid -> rank), process group, PMI server and tmpdir."""

    def __init__(self, jobid: int) -> None:
        self.jobid = jobid
        self.pids: dict[int, int] = {}
        self.pgid = 0
        self.pmi: PMIServer | None = None
        self.tmpdir = ""
        self.codes: list[int] = []  # exit codes (128+n for a signal), as the shell reports them


class StartError(Exception):
    """The shell could not start a task (``type=exec`` exception with this note)."""


def _die_with_broker() -> None:
    """In the task, before exec: SIGKILL when the broker dies (a killed broker leaves no task behind)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def render(template: str, jobid: int, name: str) -> str:
    """flux's mustache templates in output paths: ``{{id}}``, ``{{jobid}}``, ``{{id.dec}}``, ``{{name}}`` ..."""
    out = template
    for key in ("id", "jobid"):
        out = out.replace("{{%s}}" % key, encode(jobid, "f58"))
        for enc in ("dec", "hex", "f58", "f58plain", "dothex", "kvs"):
            out = out.replace("{{%s.%s}}" % (key, enc), encode(jobid, enc))
    return out.replace("{{name}}", name)


def _which(program: str, path: str, cwd: str) -> str | None:
    if "/" in program:
        full = program if os.path.isabs(program) else os.path.join(cwd, program)
        return full if os.access(full, os.X_OK) and os.path.isfile(full) else None
    for d in path.split(":"):
        candidate = os.path.join(d or cwd, program)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def task_layout(spec: dict[str, Any], alloc: list[list[Any]]) -> list[int]:
    """The rank of every task: one per slot, ``count.total`` spread over the slots, or one per node."""
    options = spec.get("attributes", {}).get("system", {}).get("shell", {}).get("options", {})
    if options.get("per-resource", {}).get("type") == "node":
        return [a[0] for a in alloc]
    slots = [a[0] for a in alloc for _ in range(a[3])]
    count = spec["tasks"][0].get("count", {})
    if "total" in count:
        total = int(count["total"])
        return sorted(slots[i % len(slots)] for i in range(total))
    return slots * int(count.get("per_slot", 1))


def start(root: str, uri: str, shim: str, job: dict[str, Any], shape: resources.Shape, broker_cwd: str) -> Running:
    """Start every task of ``job`` (a row of ``jobs`` with the jobspec parsed); StartError when one cannot start."""
    spec, jobid, alloc = job["jobspec"], job["id"], job["alloc"]
    system = spec.get("attributes", {}).get("system", {})
    options = system.get("shell", {}).get("options", {})
    f58 = encode(jobid, "f58")
    ranks = task_layout(spec, alloc)
    cwd = system.get("cwd") or broker_cwd
    base = dict(system.get("environment") or {})
    if "PYTHONPATH" in base:
        base["FLUX_PYTHONPATH_ORIG"] = base["PYTHONPATH"]
    run = Running(jobid)
    run.tmpdir = os.path.join(root, f"jobtmp-0-{f58}")
    os.makedirs(run.tmpdir, exist_ok=True)
    base.update({
        "FLUX_URI": uri, "FLUX_KVS_NAMESPACE": f"job-{jobid}", "FLUX_JOB_ID": f58, "FLUX_JOB_ID_PATH": f"/{f58}",
        "FLUX_JOB_SIZE": str(len(ranks)), "FLUX_JOB_NNODES": str(len(alloc)), "FLUX_JOB_TMPDIR": run.tmpdir,
        "FLUX_TERMINUS_SESSION": "0", "CUDA_DEVICE_ORDER": "PCI_BUS_ID",
    })
    for fname, entry in (system.get("files") or {}).items():
        fpath = os.path.join(run.tmpdir, fname)
        with open(fpath, "w") as fh:
            fh.write(entry["data"] if isinstance(entry["data"], str) else __import__("json").dumps(entry["data"]))
        os.chmod(fpath, int(entry.get("mode", 0o600)))
    command = [arg.replace("{{tmpdir}}", run.tmpdir) for arg in spec["tasks"][0]["command"]]
    if command and command[0] == "flux":
        command[0] = shim
        base["XLIB_MOCK_FLUX_ALLOC"] = f"{len(alloc)};{len(alloc[0][1])};{len(alloc[0][2])}"
        base["FLUX_ENCLOSING_ID"] = f58
    path = _which(command[0], base.get("PATH", os.defpath), cwd) if command else None
    host = shape.hostname(alloc[0][0])
    if not os.path.isdir(cwd):
        raise StartError(f"task 0 ({host}): start failed: {cwd}: No such file or directory")
    if path is None:
        raise StartError(f"task 0 (host {host}): start failed: {command[0]}: No such file or directory")
    output = options.get("output", {})
    name = job["name"]
    out_path = output.get("stdout", {}).get("path")
    err_path = output.get("stderr", {}).get("path")
    out_file = os.path.join(cwd, render(out_path, jobid, name)) if out_path else os.path.join(root, "out", f"{jobid}.out")
    err_file = (os.path.join(cwd, render(err_path, jobid, name)) if err_path
                else out_file if out_path else os.path.join(root, "out", f"{jobid}.err"))
    use_pmi = options.get("pmi", "simple") not in ("off", "none") and options.get("mpi") != "none"
    if use_pmi:
        mapping = f"(vector,(0,{len(alloc)},{max(a[3] for a in alloc)}))"
        run.pmi = PMIServer(len(ranks), f"flux-{f58}", mapping)  # made unique by PMIServer
    # flux's shell option output.mode: "truncate" (default) or "append"; one descriptor shared by all tasks
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | (0 if output.get("mode") == "append" else os.O_TRUNC)
    fout = os.open(out_file, flags, 0o644)
    ferr = os.open(err_file, flags, 0o644) if err_file != out_file else fout
    local: dict[int, int] = {}
    try:
        for task, rank in enumerate(ranks):
            env = dict(base)
            gpus = next(a[2] for a in alloc if a[0] == rank)
            env["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, gpus)) if gpus else "-1"
            env["FLUX_TASK_RANK"] = str(task)
            env["FLUX_TASK_LOCAL_ID"] = str(local.get(rank, 0))
            local[rank] = local.get(rank, 0) + 1
            if "HOSTNAME" in env:
                env["HOSTNAME"] = shape.hostname(rank)
            pass_fds: tuple[int, ...] = ()
            theirs = None
            if run.pmi is not None:
                ours, theirs = socket.socketpair()
                run.pmi.add(ours)
                env.update({"PMI_FD": str(theirs.fileno()), "PMI_RANK": str(task), "PMI_SIZE": str(len(ranks))})
                pass_fds = (theirs.fileno(),)
            try:
                proc = subprocess.Popen([path, *command[1:]], executable=path, cwd=cwd, env=env,
                                        stdin=subprocess.DEVNULL, stdout=fout, stderr=ferr, pass_fds=pass_fds,
                                        process_group=run.pgid, close_fds=True, preexec_fn=_die_with_broker)
            except OSError as exc:
                raise StartError(f"task {task} (host {host}): start failed: {command[0]}: {exc.strerror}") from None
            finally:
                if theirs is not None:
                    theirs.close()
            if not run.pgid:
                run.pgid = proc.pid
            run.pids[proc.pid] = task
            proc.returncode = 0  # reaped by the broker through its pidfd (os.waitpid), never by Popen
    except StartError:
        if run.pgid:
            try:
                os.killpg(run.pgid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            for pid in run.pids:
                os.waitpid(pid, 0)
        stop(run)
        raise
    finally:
        os.close(fout)
        if ferr != fout:
            os.close(ferr)
    return run


def stop(run: Running) -> None:
    """Forget a job's PMI sockets and tmpdir (its processes are gone)."""
    if run.pmi is not None:
        for fd in list(run.pmi.socks):
            run.pmi.close(fd)
    shutil.rmtree(run.tmpdir, ignore_errors=True)
