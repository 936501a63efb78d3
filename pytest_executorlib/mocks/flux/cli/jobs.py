"""``flux jobs``: flux-core 0.88's default format, status codes and order.

Format ``{id.f58:>12} ?:{queue:<8.8} +:{username:<8} {name:<10.10+} {status_abbrev:>2.2} {ntasks:>6}
{nnodes:>6h} {contextual_time!F:>8h} {contextual_info}``: no QUEUE column (no queues configured), USER
widened to the longest name, NAME cut to 9 characters plus ``+``, ``-`` for empty NNODES/TIME.  Codes: D, P,
S, R, C while active; CD, F, CA, TO once inactive.  Order: pending (waiting for resources, held, depending),
running, then inactive jobs newest first.  Only active jobs without ``-a``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

from pytest_executorlib.mocks.flux.cli import connect
from pytest_executorlib.mocks.flux.jobid import JobID, encode

HEADER_FIELDS = ("JOBID", "USER", "NAME", "ST", "NTASKS", "NNODES", "TIME", "INFO")
ACTIVE_CODES = {"NEW": "N", "DEPEND": "D", "PRIORITY": "P", "SCHED": "S", "RUN": "R", "CLEANUP": "C"}
RESULT_CODES = {"COMPLETED": "CD", "FAILED": "F", "CANCELED": "CA", "TIMEOUT": "TO"}


def fsd(seconds: float) -> str:
    """flux standard duration as ``flux jobs`` prints it (3 decimals at most): ``0.024s``, ``1.459s``, ``1.667m``,
    ``2h``."""
    for limit, unit, div in ((60.0, "s", 1.0), (3600.0, "m", 60.0), (86400.0, "h", 3600.0)):
        if seconds < limit:
            return f"{round(seconds / div, 3):g}{unit}"
    return f"{round(seconds / 86400.0, 3):g}d"


def _user(uid: int) -> str:
    try:
        import pwd

        return pwd.getpwuid(uid).pw_name
    except (KeyError, ImportError):
        return str(uid)


def rows(jobs: list[dict[str, Any]]) -> list[dict[str, str]]:
    now = time.time()
    out = []
    for j in jobs:
        st = j["state"]
        code = RESULT_CODES.get(j["result"], "F") if st == "INACTIVE" else ACTIVE_CODES[st]
        if st in ("NEW", "DEPEND", "PRIORITY", "SCHED"):
            ctime = j["duration"] or 0.0
        elif j["t_run"]:
            ctime = (j["t_inactive"] or now) - j["t_run"]
        else:
            ctime = 0.0
        if code == "S":
            info = "held" if j["urgency"] == 0 else ""
        elif code == "D":
            info = f"depends:{j['dependency']}" if j["dependency"] else ""
        elif code == "P":
            info = "priority-wait"
        else:
            info = j["nodelist"] or ""
        spec = json.loads(j["jobspec"])
        per_node = spec["attributes"]["system"].get("shell", {}).get("options", {}).get("per-resource")
        ntasks = j["ntasks"] if j["ntasks"] is not None else (j["nnodes"] if per_node and j["alloc"] else None)
        out.append({"id": encode(j["id"], "f58"), "username": _user(j["userid"]), "name": j["name"] or "",
                    "st": code, "ntasks": "" if ntasks is None else str(ntasks),
                    "nnodes": "-" if not j["nnodes"] else str(j["nnodes"]),
                    "time": fsd(ctime) if ctime > 0 else "-", "info": info})
    return out


def _order(j: dict[str, Any]) -> tuple[Any, ...]:
    st = j["state"]
    if st == "INACTIVE":
        return (9, -(j["t_inactive"] or 0), -j["id"])
    group = {"SCHED": 0 if j["urgency"] else 1, "PRIORITY": 2, "NEW": 2, "DEPEND": 3, "RUN": 4, "CLEANUP": 5}[st]
    return (group, -(j["priority"] or 0), j["id"])


def format_lines(table: list[dict[str, str]], header: bool) -> list[str]:
    width = max([8] + [len(r["username"]) for r in table])
    lines = []

    def name(text: str) -> str:
        return text[:9] + "+" if len(text) > 10 else text

    if header:
        lines.append(f"{'JOBID':>12} {'USER':<{width}} {'NAME':<10} {'ST':>2} {'NTASKS':>6} {'NNODES':>6} "
                     f"{'TIME':>8} INFO")
    for r in table:
        lines.append(f"{r['id']:>12} {r['username']:<{width}} {name(r['name']):<10} {r['st']:>2} {r['ntasks']:>6} "
                     f"{r['nnodes']:>6} {r['time']:>8} {r['info']}")
    return lines


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="flux-jobs")
    p.add_argument("-a", action="store_true", help="all jobs (also inactive)")
    p.add_argument("-A", action="store_true", help="all users")
    p.add_argument("-n", "--no-header", action="store_true")
    p.add_argument("-c", "--count", type=int, default=0)
    p.add_argument("-f", "--filter", default=None)
    p.add_argument("ids", nargs="*")
    args = p.parse_args(argv)
    inst = connect("jobs")
    cur = inst.conn.execute("SELECT * FROM jobs")
    cols = [d[0] for d in cur.description]
    jobs = [dict(zip(cols, r)) for r in cur.fetchall()]
    if args.ids:
        try:
            wanted = {int(JobID(i)) for i in args.ids}
        except ValueError as exc:
            p.error(str(exc))
        jobs = [j for j in jobs if j["id"] in wanted]
    elif not args.a:
        jobs = [j for j in jobs if j["state"] != "INACTIVE"]
    if args.filter:
        keep = {s.strip().upper() for s in args.filter.split(",")}
        jobs = [j for j in jobs if j["state"] in keep or (j["result"] or "") in keep
                or ("PENDING" in keep and j["state"] in ("DEPEND", "PRIORITY", "SCHED"))
                or ("RUNNING" in keep and j["state"] in ("RUN", "CLEANUP"))]
    jobs.sort(key=_order)
    if args.count:
        jobs = jobs[: args.count]
    for line in format_lines(rows(jobs), not args.no_header):
        sys.stdout.write(line + "\n")
    return 0
