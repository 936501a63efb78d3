"""One handle on "a SLURM cluster" for the conformance tests, whether it is the mock or the real one.

A scenario is written once against :class:`Cluster`: it runs SLURM's own commands (``srun``, ``sbatch``,
``squeue``...) through :meth:`Cluster.run` / :meth:`Cluster.start` with the cluster's environment, in a
per-test directory, and compares what they print after :meth:`Cluster.norm` has replaced what legitimately
differs between two clusters (job ids, the node name, wall-clock times, the partition name) by placeholders.

Where real SLURM itself is not deterministic (lines that appear only when the node is busy, such as
``srun: job N queued and waiting for resources``, or the order in which srun and slurmstepd write to the same
stderr), the comparison says so explicitly (:data:`TRANSIENT`, :func:`check_lines` with optional lines).

The real cluster is shared with other users of the machine: scenarios only look at their own jobs, and the
fixture cancels every job whose working directory lies in the test's directory when the test ends.
"""

from __future__ import annotations

import os
import queue
import re
import shlex
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from pytest_executorlib.slurm_probe import probe_sinfo

#: Lines real SLURM prints only when the node is busy (other jobs on the shared cluster).
TRANSIENT = (
    re.compile(r"srun: job <[A-Z0-9]+> queued and waiting for resources"),
    re.compile(r"srun: job <[A-Z0-9]+> has been allocated resources"),
    re.compile(r"srun: job \d+ queued and waiting for resources"),
    re.compile(r"srun: job \d+ has been allocated resources"),
    # a step started right after another one, before slurmd released the first one's CPUs
    re.compile(r"srun: Job \d+ step creation temporarily disabled, retrying \(Requested nodes are busy\)"),
    re.compile(r"srun: Step created for job \d+"),
)
ISO_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")
#: Where ci/start-slurm.sh writes its slurm.conf (XLIB_SLURM_DIR overrides the folder).
CI_SLURM_CONF = Path(os.environ.get("XLIB_SLURM_DIR", "/tmp/xlib-slurm")) / "slurm.conf"


def find_real_slurm(timeout: float = 5.0) -> tuple[dict[str, str] | None, str]:
    """Environment reaching a real SLURM (``SLURM_CONF`` from the environment, else ci/start-slurm.sh's), or
    None and what sinfo said."""
    tried = []
    candidates = [dict(os.environ)]
    if "SLURM_CONF" not in os.environ and CI_SLURM_CONF.is_file():
        candidates.append({**os.environ, "SLURM_CONF": str(CI_SLURM_CONF)})
    for env in candidates:
        answer = probe_sinfo(timeout, env)
        if answer.ok:
            return env, answer.detail
        tried.append(f"SLURM_CONF={env.get('SLURM_CONF', '(unset)')}: {answer.detail}")
    return None, "; ".join(tried)


@dataclass
class Result:
    """A finished command: exit code and its two output streams (text)."""

    argv: Sequence[str]
    rc: int
    out: str
    err: str

    def __str__(self) -> str:
        return f"$ {shlex.join(self.argv)}\nrc={self.rc}\n--- stdout\n{self.out}--- stderr\n{self.err}"


@dataclass
class Cluster:
    """A SLURM cluster (``kind`` "mock" or "real") reached through ``env``; jobs run below ``workdir``."""

    kind: str
    env: dict[str, str]
    workdir: Path
    node: str = ""
    partition: str = ""
    user: str = ""
    procs: list[subprocess.Popen[str]] = field(default_factory=list)
    mock: Any = None  # the MockSlurm (its control API) when kind == "mock"

    def __post_init__(self) -> None:
        info = self.run("sinfo", "--noheader", "--format=%P|%N", timeout=10)
        assert info.rc == 0, str(info)
        part, node = info.out.splitlines()[0].split("|")
        self.partition, self.node = part.rstrip("*"), node.strip()
        self.user = self.run("id", "-un").out.strip()

    # -- running commands -------------------------------------------------------------------------------
    def run(self, *argv: str, cwd: Path | None = None, timeout: float = 60, env: Mapping[str, str] | None = None) -> Result:
        """Run a command to completion (bounded) with the cluster's environment."""
        try:
            done = subprocess.run(
                list(argv),
                cwd=cwd or self.workdir,
                env={**self.env, **(env or {})},
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired as exc:
            raise AssertionError(f"{shlex.join(argv)} did not finish within {timeout} s; stderr so far: {exc.stderr!r}")
        return Result(argv, done.returncode, done.stdout, done.stderr)

    def start(self, *argv: str, cwd: Path | None = None) -> subprocess.Popen[str]:
        """Start a command in the background (stopped at the end of the test if still running)."""
        proc = subprocess.Popen(
            list(argv),
            cwd=cwd or self.workdir,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.procs.append(proc)
        return proc

    def sbatch(self, script: str, *options: str, name: str = "job.sh", cwd: Path | None = None) -> int:
        """Write ``script`` to ``name`` and submit it with ``sbatch --parsable``; return the job id."""
        path = (cwd or self.workdir) / name
        path.write_text(script)
        done = self.run("sbatch", "--parsable", *options, str(path), cwd=cwd)
        assert done.rc == 0 and re.fullmatch(r"\d+\n", done.out), str(done)
        return int(done.out)

    # -- job state --------------------------------------------------------------------------------------
    def show_job(self, job: int) -> dict[str, str]:
        """``scontrol -o show job <job>`` as a dict (empty if SLURM no longer knows the job)."""
        done = self.run("scontrol", "-o", "show", "job", str(job))
        return parse_show_job(done.out) if done.rc == 0 else {}

    def wait_job(self, job: int, until: Callable[[dict[str, str]], bool], timeout: float = 60, what: str = "") -> dict[str, str]:
        """Poll ``scontrol show job`` (backoff 0.05 -> 1 s) until ``until(fields)``; bounded by ``timeout``."""
        deadline, delay, fields = time.monotonic() + timeout, 0.05, {}
        while True:
            fields = self.show_job(job)
            if fields and until(fields):
                return fields
            if time.monotonic() > deadline:
                raise AssertionError(f"job {job} not {what or 'as expected'} within {timeout} s; scontrol: {fields}")
            time.sleep(delay)
            delay = min(1.0, delay * 1.5)

    def wait_state(self, job: int, *states: str, timeout: float = 60) -> dict[str, str]:
        return self.wait_job(job, lambda f: f.get("JobState") in states, timeout, what="in state " + "/".join(states))

    # -- comparing output ---------------------------------------------------------------------------------
    def norm(self, text: str, jobs: Mapping[str, int] | None = None) -> str:
        """Replace what legitimately differs between clusters: named job ids -> <NAME>, the node -> <node>,
        ISO times -> <time>, the default partition -> <partition>, the user -> <user>."""
        text = ISO_TIME.sub("<time>", text)
        if self.node:
            text = re.sub(rf"(?<![\w-]){re.escape(self.node)}(?!\w)", "<node>", text)
            text = text.replace(f"slurmstepd-{self.node}:", "slurmstepd-<node>:")
        if self.partition:
            text = re.sub(rf"(?<!\w){re.escape(self.partition)}(?!\w)", "<partition>", text)
        for label, job in (jobs or {}).items():  # after the node: a mock's node "n1" holds job id 1
            text = re.sub(rf"(?<![\w.]){job}(?!\d)", f"<{label}>", text)
        return text

    def lines(self, text: str, jobs: Mapping[str, int] | None = None) -> list[str]:
        """Normalised non-empty lines, without the busy-node transients."""
        return [
            line
            for line in self.norm(text, jobs).splitlines()
            if line.strip() and not any(p.fullmatch(line) for p in TRANSIENT)
        ]

    # -- clean-up -----------------------------------------------------------------------------------------
    def cleanup(self) -> None:
        """Stop our background commands, then cancel every job that runs in our directory."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.communicate(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.communicate(timeout=10)
        listed = self.run("squeue", "--noheader", "--format=%A|%Z", timeout=30)
        ours = [
            line.split("|")[0]
            for line in listed.out.splitlines()
            if "|" in line and line.split("|", 1)[1].startswith(str(self.workdir))
        ]
        if ours:
            self.run("scancel", *ours, timeout=30)


class LineReader:
    """Lines of a background command's stream, read by a thread, so that waiting for one is bounded."""

    def __init__(self, stream: IO[str]) -> None:
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def next(self, timeout: float = 30) -> str:
        """The next line; AssertionError if none comes within ``timeout`` s or the stream ends."""
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no line within {timeout} s") from None
        assert line is not None, "the stream ended"
        return line

    def rest(self, timeout: float = 30) -> list[str]:
        """Every remaining line until the stream ends (bounded)."""
        lines, deadline = [], time.monotonic() + timeout
        while (line := self._lines.get(timeout=max(0.01, deadline - time.monotonic()))) is not None:
            lines.append(line)
        return lines


def parse_show_job(text: str) -> dict[str, str]:
    """``Key=Value`` tokens of ``scontrol [-o] show job`` (values without spaces, as SLURM prints them)."""
    fields: dict[str, str] = {}
    for token in text.split():
        key, sep, value = token.partition("=")
        if sep and key not in fields:
            fields[key] = value
    return fields


def check_lines(got: Iterable[str], required: Iterable[str], optional: Iterable[str] = ()) -> None:
    """``got`` holds every required line, and nothing but required and optional lines (any order)."""
    got_list, req, opt = list(got), list(required), set(optional)
    missing = [line for line in req if line not in got_list]
    extra = [line for line in got_list if line not in req and line not in opt]
    assert not missing and not extra, f"missing lines {missing}, unexpected lines {extra}; got {got_list}"
