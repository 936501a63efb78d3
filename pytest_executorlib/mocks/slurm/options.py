"""Command-line parsing shared by srun and sbatch: SLURM's option names, with getopt's GNU-style rules.

``getopt`` (not argparse: start-up time) handles ``-n 2``, ``-n2``, ``--ntasks=2``, ``--ntasks 2`` and unique
prefixes of long options, and stops at the first non-option (the program or script).  Errors are reported as
SLURM does: ``srun: unrecognized option '--x'`` and ``Try "srun --help" for more information``, exit 255.
"""

from __future__ import annotations

import getopt
import sys

#: long option -> (short letter or "", takes an argument, canonical key)
_OPTIONS: dict[str, tuple[str, bool]] = {
    "ntasks": ("n", True), "cpus-per-task": ("c", True), "nodes": ("N", True), "chdir": ("D", True),
    "partition": ("p", True), "time": ("t", True), "job-name": ("J", True), "output": ("o", True),
    "error": ("e", True), "dependency": ("d", True), "gres": ("", True), "gpus": ("G", True),
    "gpus-per-task": ("", True), "gpus-per-node": ("", True), "mem": ("", True), "mem-per-cpu": ("", True),
    "mem-per-gpu": ("", True), "mpi": ("", True), "exact": ("", False), "exclusive": ("", False),
    "oversubscribe": ("s", False), "kill-on-bad-exit": ("K", False), "label": ("l", False),
    "unbuffered": ("u", False), "quiet": ("Q", False), "verbose": ("v", False), "export": ("", True),
    "overlap": ("", False), "ntasks-per-node": ("", True), "cpu-bind": ("", True), "hint": ("", True),
    "threads-per-core": ("", True), "account": ("A", True), "qos": ("q", True), "nodelist": ("w", True),
    "exclude": ("x", True), "priority": ("", True), "nice": ("", True), "parsable": ("", False),
    "wait": ("W", False), "hold": ("H", False), "get-user-env": ("", False), "comment": ("", True),
    "constraint": ("C", True), "requeue": ("", False), "no-requeue": ("", False), "input": ("i", True),
    "begin": ("b", True), "mail-type": ("", True), "mail-user": ("", True), "signal": ("", True),
    "open-mode": ("", True), "distribution": ("m", True), "cores-per-socket": ("", True),
    "sockets-per-node": ("", True), "no-kill": ("k", False), "wrap": ("", True), "immediate": ("I", False),
    "test-only": ("", False), "propagate": ("", False), "uid": ("", True), "reservation": ("", True),
    "jobid": ("", True), "array": ("a", True), "licenses": ("L", True), "mem-bind": ("", True),
    "switches": ("", True), "tmp": ("", True), "deadline": ("", True), "time-min": ("", True),
}

#: Options that are srun-only / sbatch-only (real SLURM rejects the other command's ones).
SRUN_ONLY = {"mpi", "label", "unbuffered", "exact", "overlap", "kill-on-bad-exit", "cpu-bind", "jobid",
             "propagate", "mem-bind"}
SBATCH_ONLY = {"parsable", "wrap", "array", "wait", "output", "error", "get-user-env", "mail-type", "mail-user",
               "open-mode"}
#: srun has -o/-e/-W too (output, error, wait=seconds): only the short letter differs in meaning for -W.
_SRUN_ALSO = {"output", "error"}

#: Long options whose argument is optional (``--exclusive[=user]``, ``--get-user-env[=L]``, ``-K[0|1]``).
_OPTIONAL = {"exclusive", "get-user-env", "kill-on-bad-exit", "requeue", "propagate", "hint"}


def parse(command: str, argv: list[str]) -> tuple[dict[str, str], list[str]]:
    """Parse ``argv`` up to the first non-option; returns ({long name: value}, rest).  Bad usage exits 255."""
    names = {k: v for k, v in _OPTIONS.items()
             if not (command == "srun" and k in SBATCH_ONLY and k not in _SRUN_ALSO)
             and not (command == "sbatch" and k in SRUN_ONLY)}
    shorts = "".join(s + (":" if arg else "") for s, arg in names.values() if s)
    longs = [k + ("=" if arg else "") for k, (_, arg) in names.items()]
    by_short = {s: k for k, (s, _) in names.items() if s}
    cleaned = []
    for i, token in enumerate(argv):
        if token == "--" or not token.startswith("-"):
            cleaned.extend(argv[i:])
            break
        name, eq, _ = token[2:].partition("=")
        if token.startswith("--") and eq and name in _OPTIONAL and not names.get(name, ("", True))[1]:
            token = "--" + name  # drop the optional argument (--exclusive=user -> --exclusive)
        cleaned.append(token)
    try:
        opts, rest = getopt.getopt(cleaned, shorts, longs)
    except getopt.GetoptError as exc:
        opt = exc.opt
        if exc.msg.startswith("option --") and "not recognized" in exc.msg:
            line = f"{command}: unrecognized option '--{opt}'"
        elif "requires argument" in exc.msg:
            line = (f"{command}: option '--{opt}' requires an argument" if len(opt) > 1
                    else f"{command}: option requires an argument -- '{opt}'")
        elif "not unique" in exc.msg:
            line = f"{command}: option '--{opt}' is ambiguous"
        else:
            line = f"{command}: invalid option -- '{opt}'"
        sys.stderr.write(f"{line}\nTry \"{command} --help\" for more information\n")
        raise SystemExit(255) from None
    out: dict[str, str] = {}
    for opt, value in opts:
        key = by_short[opt[1:]] if not opt.startswith("--") else opt[2:]
        out[key] = value
    return out, rest


def positive_int(command: str, options: dict[str, str], key: str, default: int, label: str) -> int:
    """An integer option >= 1; a bad value is SLURM's ``invalid ... argument`` error (exit 255)."""
    text = options.get(key)
    if text is None:
        return default
    try:
        value = int(text.split("-")[0])
        if value < (0 if key == "gpus-per-task" else 1):
            raise ValueError
        return value
    except ValueError:
        sys.stderr.write(f"{command}: error: Invalid numeric value \"{text}\" for {label}.\n")
        raise SystemExit(255) from None
