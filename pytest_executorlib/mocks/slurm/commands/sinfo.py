"""Mock ``sinfo``: ``PARTITION AVAIL TIMELIMIT NODES STATE NODELIST`` (``%9P %.5a %.10l %.6D %.6t %N``),
one line per partition and node state (idle / mix / alloc / down / drain / drng), ``-h``, ``-o``, ``-N``, ``-p``."""

from __future__ import annotations

import getopt
import sys

from pytest_executorlib.mocks.slurm import common, nodestate
from pytest_executorlib.mocks.slurm.commands.squeue import parse_format, render

DEFAULT = "%9P %.5a %.10l %.6D %.6t %N"
NODE_FORMAT = "%N %.6D %.9P %.6t"
HEADERS = {"P": "PARTITION", "R": "PARTITION", "a": "AVAIL", "l": "TIMELIMIT", "D": "NODES", "t": "STATE",
           "T": "STATE", "N": "NODELIST", "n": "HOSTNAMES", "c": "CPUS", "C": "CPUS(A/I/O/T)", "G": "GRES",
           "m": "MEMORY", "z": "S:C:T", "X": "SOCKETS", "Y": "CORES", "Z": "THREADS", "o": "NODE_ADDR"}


def node_states(cluster: common.Cluster) -> tuple[list[int], dict[str, str]]:
    used = [0] * cluster.shape.nodes
    for (alloc,) in cluster.conn.execute("SELECT alloc FROM jobs WHERE state='RUNNING'"):
        for name, cpus, _, _ in common.decode_alloc(alloc):
            used[int(name[1:]) - 1] += cpus
    states = {}
    unavailable = nodestate.unavailable(cluster.conn)
    for i, u in enumerate(used):
        name = cluster.shape.node_name(i)
        states[name] = "idle" if u == 0 else ("alloc" if u >= cluster.shape.cpus else "mix")
        if name in unavailable:  # real 22.05: "down"; drained: "drain" when idle, "drng" while jobs finish
            states[name] = "down" if unavailable[name][0] == "down" else ("drain" if u == 0 else "drng")
    return used, states


def main(cluster: common.Cluster, argv: list[str]) -> int:
    try:
        opts, _ = getopt.gnu_getopt(argv, "ho:p:NlsVe", ["noheader", "format=", "partition=", "Node", "long",
                                                          "summarize", "version", "exact", "all", "responding"])
    except getopt.GetoptError as exc:
        sys.stderr.write(f"sinfo: unrecognized option '--{exc.opt}'\nTry \"sinfo --help\" for more information\n")
        return 1
    header, fmt, only, per_node = True, DEFAULT, None, False
    for opt, value in opts:
        if opt in ("-h", "--noheader"):
            header = False
        elif opt in ("-o", "--format"):
            fmt = value
        elif opt in ("-p", "--partition"):
            only = set(value.split(","))
        elif opt in ("-N", "--Node"):
            per_node, fmt = True, fmt if "-o" in dict(opts) or "--format" in dict(opts) else NODE_FORMAT
        elif opt in ("-V", "--version"):
            sys.stdout.write("slurm 22.05.8\n")
            return 0
    shape = cluster.shape
    used, states = node_states(cluster)
    spec = parse_format(fmt)
    lines = [render(spec, lambda c: HEADERS.get(c, ""))] if header else []
    for p in shape.partitions:
        if only and p.name not in only:
            continue
        groups: dict[str, list[str]] = {}
        for i in p.nodes:
            name = shape.node_name(i)
            groups.setdefault(states[name], []).append(name) if not per_node else groups.setdefault(name, [name])
        for key, names in groups.items():
            state = states[names[0]]
            alloc = sum(used[int(n[1:]) - 1] for n in names)
            total = shape.cpus * len(names)

            def value_of(c: str, names: list[str] = names, state: str = state, alloc: int = alloc, total: int = total) -> str:
                return {
                    "P": p.name + ("*" if p.default and not per_node else ""), "R": p.name, "a": "up",
                    "l": "infinite" if p.max_time is None else common.duration(p.max_time * 60).rjust(1),
                    "D": str(len(names)), "t": state, "T": state, "N": common.nodelist(names),
                    "n": ",".join(names), "c": str(shape.cpus), "C": f"{alloc}/{total - alloc}/0/{total}",
                    "G": f"gpu:{shape.gpus}" if shape.gpus else "(null)", "m": "16000", "z": f"1:{shape.cpus}:1",
                    "X": "1", "Y": str(shape.cpus), "Z": "1", "o": "127.0.0.1",
                }.get(c, "")

            lines.append(render(spec, value_of))
    sys.stdout.write("\n".join(lines) + "\n")
    return 0
