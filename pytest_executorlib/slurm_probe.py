"""Does a SLURM answer here?  Ask ``sinfo``, with a timeout.

``shutil.which("srun")`` is no test of a working SLURM: Debian's ``slurm-client`` puts an ``srun`` on ``PATH``
that, without a configuration, fails ("resolve_ctls_from_dns_srv ... Unknown host") or hangs.  What a user
means by "SLURM is there" is that the controller answers, so :func:`probe_sinfo` runs
``sinfo --noheader --format=%P|%a|%D|%t`` and reports either the partitions it saw or, verbatim, what went
wrong (program missing, exit code and stderr, or no answer within the timeout).  The plugin uses it to decide
whether ``--xlib-backend=slurm`` can be selected; the conformance tests use it to find the real cluster.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass

#: Seconds ``sinfo`` gets to answer before SLURM counts as not answering.
SINFO_TIMEOUT = 5.0


@dataclass(frozen=True)
class SinfoAnswer:
    """Result of :func:`probe_sinfo`: ``ok`` and a one-line ``detail`` (what sinfo said, or why it did not)."""

    ok: bool
    detail: str


def probe_sinfo(timeout: float = SINFO_TIMEOUT, env: Mapping[str, str] | None = None) -> SinfoAnswer:
    """Ask ``sinfo`` (found on ``env``'s PATH) whether a SLURM controller answers within ``timeout`` seconds."""
    argv = ["sinfo", "--noheader", "--format=%P|%a|%D|%t"]
    try:
        done = subprocess.run(
            argv,
            env=dict(os.environ if env is None else env),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except FileNotFoundError:
        return SinfoAnswer(False, "sinfo is not on PATH")
    except subprocess.TimeoutExpired:
        return SinfoAnswer(False, f"sinfo did not answer within {timeout:g} s")
    said = " / ".join(line.strip() for line in (done.stderr + done.stdout).splitlines() if line.strip())
    if done.returncode != 0:
        return SinfoAnswer(False, f"sinfo exited with code {done.returncode}: {said or '(no output)'}")
    if not done.stdout.strip():
        return SinfoAnswer(False, "sinfo answered but lists no partition")
    return SinfoAnswer(True, f"sinfo lists partition|avail|nodes|state: {said}")


def count_nodes(timeout: float = SINFO_TIMEOUT, env: Mapping[str, str] | None = None) -> tuple[int, str]:
    """How many nodes the SLURM reached through ``env`` has (``sinfo -N``), and what went wrong when 0."""
    try:
        done = subprocess.run(["sinfo", "--noheader", "--Node", "--format=%N"], env=dict(os.environ if env is None else env),
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        return 0, "sinfo is not on PATH"
    except subprocess.TimeoutExpired:
        return 0, f"sinfo did not answer within {timeout:g} s"
    if done.returncode != 0:
        return 0, f"sinfo exited with code {done.returncode}: {done.stderr.strip() or '(no output)'}"
    return len({line.strip() for line in done.stdout.splitlines() if line.strip()}), ""
