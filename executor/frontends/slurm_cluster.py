"""``SlurmClusterExecutor``: one SLURM batch job (``sbatch`` through pysqa) per call.

Layer: frontends.  Everything but the MPI launcher is shared with ``FluxClusterExecutor``
(``executor.frontends.cluster``); see docs/cluster.md.
"""

from __future__ import annotations

from typing import Any

from executor.frontends.cluster import ClusterExecutor


class SlurmClusterExecutor(ClusterExecutor):
    """executorlib's ``SlurmClusterExecutor``: each call is a SLURM batch job; results come back through
    ``<cache_directory>/<key>_o.h5``, so the Python process may exit (``wait=False``) and a later one reconnect.

    Pass ``resource_dict={"partition": ...}`` (pysqa's default template always writes ``--partition``), a
    ``submission_template``, or a ``pysqa_config_directory``.
    """

    backend = "slurm"

    def _parallel_prefix(self, cores: int, resources: dict[str, Any]) -> list[str]:
        argv = ["srun", "-n", str(cores)]
        if self._pmi_mode:
            argv.append(f"--mpi={self._pmi_mode}")
        if resources.get("openmpi_oversubscribe"):
            argv.append("--oversubscribe")
        if resources.get("exclusive"):
            argv.append("--exact")
        return argv
