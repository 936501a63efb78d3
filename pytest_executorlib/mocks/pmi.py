"""A PMI-1 server, so that ``srun -n N`` (mock SLURM) and ``flux run -n N`` (mock flux) ranks form one MPI
``COMM_WORLD`` of size N.  Shared by both mocks: the mock ``srun`` serves it itself, the mock flux broker serves
one per job.

Real SLURM's ``--mpi=pmi2`` plugin serves MPICH over a socket whose descriptor it passes in ``PMI_FD`` (with
``PMI_RANK``, ``PMI_SIZE``, ``PMI_JOBID``); MPICH's built-in client then speaks the "simple PMI" wire protocol:
newline-terminated ``cmd=... key=value`` lines (``init``, ``get_maxes``, ``get_my_kvsname``, ``put``,
``barrier_in``, ``get``, ``finalize``).  This module keeps one key-value space per step and answers those
lines; ``barrier_out`` goes to every rank once all have entered the barrier.  ``PMI_process_mapping`` tells
MPICH which ranks share a node (``(vector,(0,nodes,ranks_per_node))``), as SLURM does.
"""

from __future__ import annotations

import os
import socket


class PMIServer:
    """Key-value space and barrier of one step; :meth:`handle` is called when a rank's socket is readable."""

    def __init__(self, size: int, kvsname: str, mapping: str) -> None:
        self.size = size
        # MPICH names its shared-memory segments after the kvs name: a name that repeats across runs (job 1,
        # step 0 of every fresh mock cluster) meets segments a killed run left in /dev/shm ("Out of memory" in
        # MPIDI_POSIX_comm_bootstrap), so every server's name gets a random suffix.
        self.kvsname = f"{kvsname}-{os.urandom(4).hex()}"
        self.kvs: dict[str, str] = {"PMI_process_mapping": mapping}
        self.socks: dict[int, socket.socket] = {}  # fd -> our end
        self.buffers: dict[int, bytes] = {}
        self.in_barrier: set[int] = set()
        self.aborted: int | None = None

    def add(self, sock: socket.socket) -> None:
        self.socks[sock.fileno()] = sock
        self.buffers[sock.fileno()] = b""

    def close(self, fd: int) -> None:
        sock = self.socks.pop(fd, None)
        self.buffers.pop(fd, None)
        self.in_barrier.discard(fd)
        if sock is not None:
            sock.close()

    def handle(self, fd: int) -> bool:
        """Read and answer what rank socket ``fd`` sent; False once it is closed (the caller unregisters it)."""
        sock = self.socks[fd]
        try:
            data = sock.recv(65536)
        except OSError:
            data = b""
        if not data:
            return False
        buf = self.buffers[fd] + data
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            self._command(fd, line.decode(errors="replace"))
        self.buffers[fd] = buf
        return True

    def _send(self, fd: int, text: str) -> None:
        sock = self.socks.get(fd)
        if sock is not None:
            try:
                sock.sendall(text.encode() + b"\n")
            except OSError:
                pass

    def _command(self, fd: int, line: str) -> None:
        fields = dict(item.split("=", 1) for item in line.split() if "=" in item)
        cmd = fields.get("cmd") or fields.get("mcmd", "")
        if cmd == "init":
            self._send(fd, "cmd=response_to_init pmi_version=1 pmi_subversion=1 rc=0")
        elif cmd == "get_maxes":
            self._send(fd, "cmd=maxes rc=0 kvsname_max=256 keylen_max=256 vallen_max=1024")
        elif cmd == "get_appnum":
            self._send(fd, "cmd=appnum rc=0 appnum=0")
        elif cmd == "get_my_kvsname":
            self._send(fd, f"cmd=my_kvsname rc=0 kvsname={self.kvsname}")
        elif cmd == "get_universe_size":
            self._send(fd, f"cmd=universe_size rc=0 size={self.size}")
        elif cmd == "put":
            self.kvs[fields.get("key", "")] = fields.get("value", "")
            self._send(fd, "cmd=put_result rc=0")
        elif cmd == "get":
            key = fields.get("key", "")
            if key in self.kvs:
                self._send(fd, f"cmd=get_result rc=0 value={self.kvs[key]}")
            else:
                self._send(fd, "cmd=get_result rc=-1 msg=key_not_found")
        elif cmd == "barrier_in":
            self.in_barrier.add(fd)
            if len(self.in_barrier) >= self.size:
                for member in list(self.in_barrier):
                    self._send(member, "cmd=barrier_out rc=0")
                self.in_barrier.clear()
        elif cmd == "finalize":
            self._send(fd, "cmd=finalize_ack rc=0")
        elif cmd == "abort":
            self.aborted = int(fields.get("exitcode", "1") or 1)
        else:
            self._send(fd, f"cmd={cmd or 'unknown'} rc=-1 msg=unknown_command")
