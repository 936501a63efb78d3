"""The batch-queue adapter of the cluster executors: submit, list and cancel jobs through pysqa.

Layer: spawners (imports errors only).  pysqa (the ``cluster`` extra) renders its SLURM or flux template (or
the user's ``submission_template``, or the queue templates of a pysqa configuration directory) into
``<working directory>/run_queue.sh`` and runs ``sbatch`` / ``flux batch``.  This module adds what pysqa leaves
to its caller:

* **Every command is bounded** (``COMMAND_TIMEOUT``) and a failing one raises ``QueueCommandError`` quoting the
  queue's own words (pysqa's default hook writes ``pysqa.err`` and returns None instead).
* **Several parents**: pysqa's SLURM template writes ``--dependency=afterok:{{ids|join(',')}}``, and SLURM reads
  ``afterok:A,B`` as afterok A *and afterany* B.  For SLURM the ids are handed over as ONE item ``A:B``, which
  the same template renders as ``afterok:A:B`` (afterok for every parent).  flux's template writes one
  ``--dependency=afterok:<id>`` per id: ids stay separate.
* **One listing for all jobs**: ``states()`` runs one ``squeue`` / ``flux jobs -a`` and returns every job's
  state, whatever the number of calls waiting on it.
* The job's environment: the submitter's environment is what SLURM and flux export to a batch job; the command
  runs with ``env`` (the parent's ``sys.path`` as ``PYTHONPATH``, coverage's configuration).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from typing import Any

from executor.errors import install_hint

#: Seconds any one queue command (sbatch, squeue, scancel, flux ...) may take before it counts as failed.
COMMAND_TIMEOUT = 60.0
BACKENDS = ("slurm", "flux")
#: States after which a flux job runs no more (pysqa maps CD to "finished", CA and C to "error").
FLUX_ENDED = {"finished", "error", "F", "TO", "CD", "CA"}


class QueueCommandError(RuntimeError):
    """A queue command failed or timed out; ``output`` is what it printed."""

    def __init__(self, argv: str, output: str, returncode: int | None) -> None:
        how = "timed out" if returncode is None else f"exited with code {returncode}"
        super().__init__(f"`{argv}` {how}: {output.strip() or '(no output)'}")
        self.argv = argv
        self.output = output
        self.returncode = returncode


def import_pysqa() -> Any:
    try:
        import pysqa
    except ImportError as error:
        raise ImportError(
            f"SlurmClusterExecutor and FluxClusterExecutor submit jobs through pysqa, which is not installed; "
            f"install the 'cluster' extra: {install_hint('cluster')}"
        ) from error
    return pysqa


class QueueAdapter:
    """One pysqa ``QueueAdapter`` for ``backend`` ("slurm" or "flux"), or for a pysqa configuration directory."""

    def __init__(self, backend: str, config_directory: str | None = None, env: Mapping[str, str] | None = None) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        pysqa = import_pysqa()
        self.backend = backend
        self.env = dict(os.environ if env is None else env)
        self._adapter = pysqa.QueueAdapter(directory=config_directory, queue_type=backend if config_directory is None else None, execute_command=self._run)

    def _run(
        self,
        commands: str | list[str],
        working_directory: str | None = None,
        split_output: bool = True,
        shell: bool = False,
        error_filename: str = "pysqa.err",
    ) -> str | list[str]:
        """pysqa's command hook: bounded, raising ``QueueCommandError`` with the command's output."""
        if shell and isinstance(commands, list):
            commands = " ".join(commands)
        argv = commands if isinstance(commands, str) else " ".join(commands)
        try:
            done = subprocess.run(
                commands,
                cwd=working_directory,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                shell=isinstance(commands, str),
                timeout=COMMAND_TIMEOUT,
            )
        except subprocess.TimeoutExpired as expired:
            out = expired.output or ""
            raise QueueCommandError(argv, out if isinstance(out, str) else out.decode(errors="replace"), None) from None
        except OSError as error:  # e.g. sbatch not on PATH
            raise QueueCommandError(argv, str(error), 127) from None
        if done.returncode != 0:
            raise QueueCommandError(argv, done.stdout, done.returncode)
        return done.stdout.split("\n") if split_output else done.stdout

    def submit(self, command: str, working_directory: str, dependencies: list[int], options: Mapping[str, Any]) -> int:
        """Submit ``command`` as one batch job; returns its id.  ``QueueCommandError`` when the queue rejects it,
        ``ValueError`` for options pysqa refuses (e.g. ``queue`` without a configuration directory)."""
        ids = [str(i) for i in dependencies]
        if self.backend == "slurm" and len(ids) > 1:
            ids = [":".join(ids)]  # afterok:A:B, see the module docstring
        os.makedirs(working_directory, exist_ok=True)
        job = self._adapter.submit_job(
            command=command, working_directory=working_directory, dependency_list=ids or None, **options
        )
        if job is None:
            raise QueueCommandError("submit", "the queue printed no job id", 0)
        return int(job)

    def states(self) -> dict[int, str]:
        """Every job the queue lists, id -> pysqa's state ("running", "pending", or the queue's raw code)."""
        table = self._adapter.get_queue_status()
        if table is None or len(table) == 0:
            return {}
        return {int(job): str(state) for job, state in zip(table["jobid"], table["status"])}

    def cancel(self, job: int) -> None:
        """Cancel ``job`` (silent when it has ended: scancel says nothing, flux's "job is inactive" is ignored)."""
        try:
            self._adapter.delete_job(process_id=job)
        except QueueCommandError:
            pass

    def describe(self, job: int) -> str | None:
        """The final state of an ended job, if the queue still knows it (SLURM: ``scontrol show job``)."""
        if self.backend != "slurm":
            return None
        try:
            out = self._run(["scontrol", "-o", "show", "job", str(job)], split_output=False)
        except QueueCommandError:
            return None
        fields = dict(token.partition("=")[::2] for token in str(out).split() if "=" in token)
        state = fields.get("JobState")
        if state is None:
            return None
        reason, code = fields.get("Reason"), fields.get("ExitCode")
        return state + (f" (Reason={reason})" if reason and reason != "None" else "") + (f", ExitCode={code}" if code else "")
