"""``flux.core.handle.Flux``: a handle on a mock flux instance (``$FLUX_URI``, else ``local:///run/flux/local``)."""

from __future__ import annotations

import errno
from typing import Any

from pytest_executorlib.mocks.flux.client import Instance

FLUX_NODEID_ANY = 0xFFFFFFFF


class Flux:
    """``Flux(url=None, flags=0, handle=None)``; FileNotFoundError ("Unable to connect to Flux: broker socket ...
    was not found") when no instance answers at ``url``."""

    def __init__(self, url: Any = None, flags: int = 0, handle: Any = None) -> None:
        if isinstance(url, bytes):
            url = url.decode()
        self._instance = Instance.from_uri(url or None)

    @property
    def instance(self) -> Instance:
        return self._instance

    def attr_get(self, name: str) -> str:
        shape = self._instance.shape
        values = {"size": str(shape.nodes), "rank": "0", "jobid-path": "/", "local-uri": self._instance.uri,
                  "broker.pid": "0", "instance-level": "0", "rundir": self._instance.root}
        if name not in values:
            raise OSError(errno.ENOENT, "No such file or directory")
        return values[name]

    def get_rank(self) -> int:
        return 0

    def rpc(self, topic: str, payload: Any = None, nodeid: int = FLUX_NODEID_ANY, flags: int = 0) -> Any:
        raise OSError(errno.ENOSYS, f"the mock flux answers no RPC ({topic!r}); use flux.job / flux.resource")

    def close(self) -> None:
        self._instance.close()

    def __enter__(self) -> Flux:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
