"""Mock ``squeue``: the default table, ``-o/--format`` with SLURM's ``%[.][width]code`` fields, ``-h``, ``-t``,
``-j``, ``-u``, ``-p``, ``-n``, ``--me``.

Default format ``%.18i %.9P %.8j %.8u %.2t %.10M %.6D %R``; a width truncates, ``.`` right-aligns.  Only
active jobs unless ``-t`` says otherwise; ``-j`` with ids none of which is known -> ``slurm_load_jobs error:
Invalid job id specified`` (exit 1).
"""

from __future__ import annotations

import getopt
import os
import sys
TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: importing typing costs a command ~10 ms
if TYPE_CHECKING:
    from typing import Any

from pytest_executorlib.mocks.slurm.nodestate import REASON_NODES_DOWN
from pytest_executorlib.mocks.slurm import common, jobtable

DEFAULT = "%.18i %.9P %.8j %.8u %.2t %.10M %.6D %R"
LONG_FORMAT = "%.18i %.9P %.8j %.8u %.8T %.10M %.9l %.6D %R"
HEADERS = {"i": "JOBID", "A": "JOBID", "j": "NAME", "u": "USER", "t": "ST", "T": "STATE", "P": "PARTITION",
           "M": "TIME", "l": "TIME_LIMIT", "D": "NODES", "R": "NODELIST(REASON)", "N": "NODELIST", "C": "CPUS",
           "Z": "WORK_DIR", "o": "COMMAND", "V": "SUBMIT_TIME", "S": "START_TIME", "e": "END_TIME",
           "L": "TIME_LEFT", "r": "REASON", "Q": "PRIORITY", "p": "PRIORITY", "a": "ACCOUNT", "q": "QOS",
           "c": "MIN_CPUS", "E": "DEPENDENCY", "k": "COMMENT", "h": "OVER_SUBSCRIBE", "n": "REQ_NODES",
           "x": "EXC_NODES", "m": "MIN_MEMORY", "b": "TRES_PER_NODE", "g": "GROUP", "U": "UID", "G": "GID",
           "y": "NICE", "B": "EXEC_HOST", "K": "ARRAY_TASK_ID", "F": "ARRAY_JOB_ID", "f": "FEATURES",
           "v": "RESERVATION", "O": "CONTIGUOUS", "H": "SOCKETS", "I": "CORES", "J": "THREADS", "w": "WCKEY"}


def field(job: dict[str, Any], code: str) -> str:
    state = job["state"]
    if code in "iAF":
        return str(job["id"])
    if code == "j":
        return job["name"]
    if code == "u":
        return job["user"]
    if code == "t":
        return jobtable.COMPACT.get(state, state)
    if code == "T":
        return state
    if code == "P":
        return job["partition"]
    if code == "M":
        return common.duration(jobtable.run_time(job))
    if code == "l":
        return _limit(job["time_limit"])
    if code == "D":
        return str(jobtable.num_nodes(job))
    if code == "R":
        show_reason = state == "PENDING" or (state not in ("RUNNING", "COMPLETING", "NODE_FAIL") and job["reason"] != "None")
        if job["reason"].startswith(REASON_NODES_DOWN):  # squeue spells this one with spaces, scontrol with underscores
            return f"({job['reason'].replace('_', ' ')})"
        return f"({job['reason']})" if show_reason else job["nodelist"]
    if code in "NB":
        return job["nodelist"] if state != "PENDING" else ("n/a" if code == "B" else "")
    if code in "Cc":
        return str(jobtable.cpus(job) if code == "C" else job["cpus_per_task"])
    if code == "Z":
        return job["workdir"]
    if code == "o":
        return job["command"] or ""
    if code in "VSe":
        t = {"V": job["submit_time"], "S": job["start_time"], "e": job["end_time"]}[code]
        return common.iso(t) if t else ("N/A" if code != "V" else "Unknown")
    if code == "L":
        if job["time_limit"] is None:
            return "UNLIMITED"
        return common.duration(max(0.0, job["time_limit"] - jobtable.run_time(job)))
    if code == "r":
        return job["reason"]
    if code in "Qp":
        return "1" if code == "Q" else "0.99998474121093"
    if code == "a":
        return "(null)"
    if code == "q":
        return "normal"
    if code == "E":
        return job["dependency"] or "(null)"
    if code == "h":
        return "NO" if job["exclusive"] else "OK"
    if code in "nxkfvw":
        return "(null)" if code != "n" else ""
    if code == "m":
        return f"{job['mem']}M" if job["mem"] else "0"
    if code == "b":
        return f"gres:gpu:{job['gpus']}" if job["gpus"] else "N/A"
    if code in "gG":
        return str(os.getgid())
    if code == "U":
        return str(os.getuid())
    if code == "y":
        return "0"
    if code == "K":
        return "N/A"
    if code in "OHIJ":
        return "0" if code == "O" else "*"
    return ""


def _limit(seconds: int | None) -> str:
    if seconds is None:
        return "UNLIMITED"
    return common.duration(seconds)


def parse_format(fmt: str) -> list[tuple[str, str, int | None, bool]]:
    """``"%.18i %j|x"`` -> [(literal prefix, code, width, right-aligned), ...] (code "" = trailing literal)."""
    out = []
    literal = ""
    i = 0
    while i < len(fmt):
        if fmt[i] != "%" or fmt[i + 1:i + 2] == "%":
            literal += fmt[i]
            i += 1 if fmt[i] != "%" else 2
            continue
        j = i + 1
        right = j < len(fmt) and fmt[j] == "."
        if right:
            j += 1
        digits = ""
        while j < len(fmt) and fmt[j].isdigit():
            digits += fmt[j]
            j += 1
        if j >= len(fmt):
            literal += fmt[i:]
            break
        out.append((literal, fmt[j], int(digits) if digits else None, right))
        literal = ""
        i = j + 1
    if literal:
        out.append((literal, "", None, False))
    return out


def render(spec: list[tuple[str, str, int | None, bool]], value_of: Any) -> str:
    parts = []
    for literal, code, width, right in spec:
        parts.append(literal)
        if not code:
            continue
        text = str(value_of(code))
        if width is not None:
            text = text[:width]
            text = text.rjust(width) if right else text.ljust(width)
        parts.append(text)
    return "".join(parts)


def _states(text: str) -> set[str] | None:
    if text.lower() == "all":
        return None
    out = set()
    for item in text.split(","):
        item = item.strip().upper()
        out.add(jobtable.LONG.get(item, item))
    return out


def main(cluster: common.Cluster, argv: list[str]) -> int:
    try:
        opts, _ = getopt.gnu_getopt(argv, "hHo:O:t:j:u:p:n:laS:rsvM:A:q:w:", [
            "noheader", "format=", "Format=", "states=", "jobs=", "user=", "partition=", "name=", "me", "long",
            "all", "array", "sort=", "steps", "verbose", "clusters=", "account=", "qos=", "nodelist=", "noconvert",
            "iterate=", "start", "help", "usage", "version", "json", "yaml", "local", "federation", "sibling",
            "hide", "array-unique", "only-job-state"])
    except getopt.GetoptError as exc:
        sys.stderr.write(f"squeue: unrecognized option '{'--' if len(exc.opt) > 1 else '-'}{exc.opt}'\n"
                         "Try \"squeue --help\" for more information\n")
        return 1
    header, fmt, states, ids, users, parts, names = True, DEFAULT, set(jobtable.ACTIVE), None, None, None, None
    for opt, value in opts:
        if opt in ("-h", "--noheader"):
            header = False
        elif opt in ("-o", "--format"):
            fmt = value
        elif opt in ("-l", "--long"):
            fmt = LONG_FORMAT
        elif opt in ("-t", "--states"):
            states = _states(value)  # type: ignore[assignment]
        elif opt in ("-j", "--jobs"):
            try:
                ids = [int(x.split("_")[0].split(".")[0]) for x in value.split(",") if x]
            except ValueError:
                sys.stderr.write(f"squeue: error: Invalid job id: {value}\n")
                return 1
        elif opt in ("-u", "--user"):
            users = set(value.split(","))
        elif opt == "--me":
            users = {common.user()}
        elif opt in ("-p", "--partition"):
            parts = set(value.split(","))
        elif opt in ("-n", "--name"):
            names = set(value.split(","))
        elif opt == "--version":
            sys.stdout.write("slurm 22.05.8\n")
            return 0
    jobs = jobtable.visible_jobs(cluster.conn, ids)
    if ids is not None and not jobs:
        sys.stderr.write("slurm_load_jobs error: Invalid job id specified\n")
        return 1
    spec = parse_format(fmt)
    lines = []
    if header:
        lines.append(render(spec, lambda code: HEADERS.get(code, "")))
    for job in jobs:
        if states is not None and job["state"] not in states:
            continue
        if (users and job["user"] not in users) or (parts and job["partition"] not in parts) or (
                names and job["name"] not in names):
            continue
        lines.append(render(spec, lambda code, job=job: field(job, code)))
    if lines:
        sys.stdout.write("\n".join(lines) + "\n")
    return 0
