"""``FluxClusterExecutor``: one flux batch job (``flux batch`` through pysqa) per call.

Layer: frontends.  Shared with ``SlurmClusterExecutor`` (``executor.frontends.cluster``) but for the MPI
launcher; flux's ended states F (failed) and TO (time-out), which executorlib never sees as dead, fail the call
like CA.  See docs/cluster.md.
"""

from __future__ import annotations

from typing import Any

from executor.frontends.cluster import ClusterExecutor


class FluxClusterExecutor(ClusterExecutor):
    """executorlib's ``FluxClusterExecutor``: each call is a flux batch job; results come back through
    ``<cache_directory>/<key>_o.h5``."""

    backend = "flux"

    def _parallel_prefix(self, cores: int, resources: dict[str, Any]) -> list[str]:
        if resources.get("openmpi_oversubscribe") or resources.get("exclusive"):
            raise ValueError("FluxClusterExecutor cannot run MPI calls with openmpi_oversubscribe or exclusive")
        argv = ["flux", "run"]
        if self._pmi_mode:
            argv += ["-o", f"pmi={self._pmi_mode}"]
        return [*argv, "-n", str(cores)]
