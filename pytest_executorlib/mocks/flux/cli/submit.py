"""``flux run``, ``flux submit`` and ``flux batch``: flux-core 0.88's options, directives, output and exit codes.

* ``submit`` prints the job's f58 id; ``batch`` too, after reading ``# flux:`` directives (before the first
  command line of the script; command-line options win) and requiring ``-n/--nslots`` or ``-N``.
* ``run`` submits, waits (event-driven) until the job is inactive, forwards the job's stdout and stderr, prints
  the exception lines (``0.012s: job.exception type=timeout severity=0 resource allocation expired``) and
  exits with the highest task exit code (``flux-job: task(s) exited with exit code n``, 128+n for a signal
  with its name); an unsatisfiable request exits 1.  SIGINT/SIGTERM cancel the job.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import sys
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

from pytest_executorlib.mocks.flux.cli import CommandError, connect
from pytest_executorlib.mocks.flux.jobid import JobID, encode


def _parser(command: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=f"flux-{command}", add_help=True)
    batch = command == "batch"
    p.add_argument("-n", "--nslots" if batch else "--ntasks", dest="n", type=int, default=None)
    p.add_argument("-N", "--nodes", type=int, default=None)
    p.add_argument("-c", "--cores-per-slot" if batch else "--cores-per-task", dest="c", type=int, default=1)
    p.add_argument("-g", "--gpus-per-slot" if batch else "--gpus-per-task", dest="g", type=int, default=None)
    p.add_argument("-t", "--time-limit", default=None)
    p.add_argument("-o", "--setopt", action="append", default=[])
    p.add_argument("-S", "--setattr", action="append", default=[])
    p.add_argument("--env", action="append", default=[])
    p.add_argument("--job-name", default=None)
    p.add_argument("--output", default=None)
    p.add_argument("--error", default=None)
    p.add_argument("--dependency", action="append", default=[])
    p.add_argument("--urgency", default="16")
    p.add_argument("--cwd", default=None)
    p.add_argument("--exclusive", action="store_true")
    p.add_argument("-q", "--queue", default=None)
    p.add_argument("-B", "--bank", default=None)
    p.add_argument("--flags", default=None)
    if batch:
        p.add_argument("script", nargs="?")
        p.add_argument("args", nargs=argparse.REMAINDER)
    else:
        p.add_argument("command", nargs=argparse.REMAINDER)
    return p


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _time_limit(text: str) -> float:
    from pytest_executorlib.mocks.flux.jobspec import parse_fsd

    stripped = text.strip()
    try:
        return float(stripped) * 60.0  # no unit: minutes
    except ValueError:
        try:
            return parse_fsd(stripped)
        except ValueError:
            raise CommandError(f"invalid Flux standard duration '{text}'") from None


def _urgency(text: str) -> int:
    named = {"hold": 0, "default": 16, "expedite": 31}
    if text in named:
        return named[text]
    try:
        return int(text)
    except ValueError:
        raise CommandError(f"invalid urgency '{text}'") from None


def _environment(rules: list[str]) -> dict[str, str]:
    env = dict(os.environ)
    for rule in rules:
        if rule.startswith("-"):
            import fnmatch

            for key in [k for k in env if fnmatch.fnmatch(k, rule[1:])]:
                del env[key]
        elif "=" in rule:
            key, value = rule.split("=", 1)
            env[key] = os.path.expandvars(value)
    return env


def directives(script: str) -> list[str]:
    """The ``# flux:`` options of a batch script (before its first command line)."""
    out: list[str] = []
    for line in script.splitlines():
        s = line.strip()
        if not s or (s.startswith("#") and not s.startswith("# flux:") and not s.startswith("#flux:")):
            continue
        if s.startswith(("# flux:", "#flux:")):
            out.extend(shlex.split(s.split(":", 1)[1]))
            continue
        break
    return out


def _build(command: str, args: argparse.Namespace, script: str | None) -> Any:
    from pytest_executorlib.mocks.flux.jobspec import JobspecV1

    try:
        if command == "batch":
            if args.n is None and args.nodes is None:
                raise CommandError("Number of slots to allocate must be specified")
            assert script is not None
            spec = JobspecV1.from_batch_command(script, args.script, args=args.args, num_slots=args.n or args.nodes,
                                                cores_per_slot=args.c, gpus_per_slot=args.g, num_nodes=args.nodes,
                                                exclusive=args.exclusive)
        else:
            if not args.command:
                raise CommandError("job command and arguments are missing")
            n = args.n if args.n is not None else (args.nodes or 1)
            spec = JobspecV1.from_command(args.command, num_tasks=n, cores_per_task=args.c, gpus_per_task=args.g,
                                          num_nodes=args.nodes, exclusive=args.exclusive)
    except (TypeError, ValueError) as exc:
        raise CommandError(str(exc)) from None
    spec.environment = _environment(args.env)
    spec.cwd = args.cwd or os.getcwd()
    if args.time_limit is not None:
        spec.duration = _time_limit(args.time_limit)
    if args.job_name:
        spec.setattr("job.name", args.job_name)
    if command == "batch" and args.output is None:
        args.output = "flux-{{id}}.out"
    if args.output:
        spec.stdout = args.output
    if args.error:
        spec.stderr = args.error
    elif args.output:
        spec.stderr = args.output
    if args.queue:
        spec.queue = args.queue
    for opt in args.setopt:
        key, _, val = opt.partition("=")
        spec.setattr_shell_option(key, _value(val) if val else 1)
    for attr in args.setattr:
        key, _, val = attr.partition("=")
        spec.setattr(key, _value(val) if val else 1)
    deps = []
    for dep in args.dependency:
        scheme, _, value = dep.partition(":")
        deps.append({"scheme": scheme, "value": value})
    if deps:
        spec.setattr("dependencies", deps)
    return spec


def main(command: str, argv: list[str]) -> int:
    parser = _parser(command)
    args = parser.parse_args(argv)
    script = None
    if command == "batch":
        if args.script is None:
            raise CommandError("batch script is required (the mock flux reads no script from stdin)")
        try:
            with open(args.script) as fh:
                script = fh.read()
        except OSError as exc:
            raise CommandError(f"{exc.strerror}: '{args.script}'") from None
        args = parser.parse_args([*directives(script), *argv])
    inst = connect(command)
    spec = _build(command, args, script)
    try:
        jobid = inst.submit(spec.jobspec, urgency=_urgency(args.urgency), kind=command)
    except OSError as exc:
        if command == "submit":
            sys.stderr.write(f"{exc}\n")
            return 1
        raise CommandError(str(exc)) from None
    if command != "run":
        sys.stdout.write(encode(jobid, "f58") + "\n")
        return 0
    return _attach(inst, jobid, spec.jobspec)


def _attach(inst: Any, jobid: int, spec: dict[str, Any]) -> int:
    def cancel(signum: int, frame: Any) -> None:
        try:
            inst.raise_exception(jobid, "cancel", 0, "")
        except OSError:
            pass

    old = {s: signal.signal(s, cancel) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        job = inst.wait_inactive(jobid)
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    has_output = bool(spec["attributes"]["system"].get("shell", {}).get("options", {}).get("output"))
    if not has_output:
        for name, stream in (("out", sys.stdout), ("err", sys.stderr)):
            path = os.path.join(inst.root, "out", f"{jobid}.{name}")
            try:
                with open(path, "rb") as fh:
                    data = fh.read()
                os.unlink(path)
            except OSError:
                continue
            stream.flush()
            stream.buffer.write(data)
            stream.flush()
    for _, name, ts, ctx in inst.events(jobid):
        if name == "exception":
            sys.stderr.write(f"{ts - job['t_submit']:.3f}s: job.exception type={ctx['type']} "
                             f"severity={ctx['severity']} {ctx.get('note', '')}".rstrip() + "\n")
    status = job["waitstatus"]
    if status is None:
        return 1
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)
    if code and job["exc_type"] != "exec":
        if code > 128:
            sys.stderr.write(f"flux-job: task(s) {signal.strsignal(code - 128)}\n")
        else:
            sys.stderr.write(f"flux-job: task(s) exited with exit code {code}\n")
    return code


__all__ = ["main", "directives", "JobID"]
