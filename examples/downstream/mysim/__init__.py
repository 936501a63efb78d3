"""A tiny 'scientific' package, standing in for a downstream project that runs its work through an executor.

Its functions run inside executor workers (fresh processes, MPI ranks); the example test suite checks their
results and its coverage report counts the lines that ran in those workers.
"""

from __future__ import annotations

import math
import os


def pair_energy(r: float, epsilon: float = 1.0, sigma: float = 1.0) -> float:
    """Lennard-Jones energy of two particles at distance ``r``."""
    if r <= 0:
        raise ValueError(f"distance must be positive, got {r}")
    s6 = (sigma / r) ** 6
    return 4 * epsilon * (s6 * s6 - s6)


def total_energy(positions: list[tuple[float, float, float]]) -> float:
    """Sum of the pair energies of all particles."""
    energy = 0.0
    for i, a in enumerate(positions):
        for b in positions[i + 1 :]:
            energy += pair_energy(math.dist(a, b))
    return energy


def lattice(n: int, spacing: float = 1.2) -> list[tuple[float, float, float]]:
    """``n**3`` particles on a cubic lattice."""
    return [(i * spacing, j * spacing, k * spacing) for i in range(n) for j in range(n) for k in range(n)]


def threads_available() -> int:
    """How many threads the numerical libraries may use here (what ``threads_per_core`` reserved)."""
    return int(os.environ.get("OMP_NUM_THREADS", "1"))


def distributed_energy(positions: list[tuple[float, float, float]]) -> float:
    """Each MPI rank sums a share of the pairs; rank results are reduced with MPI."""
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    energy = 0.0
    for i in range(comm.Get_rank(), len(positions), comm.Get_size()):
        for b in positions[i + 1 :]:
            energy += pair_energy(math.dist(positions[i], b))
    return comm.allreduce(energy)
