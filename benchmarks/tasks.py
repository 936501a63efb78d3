"""Trivial functions the benchmarks submit (a module, so every executor pickles them by reference)."""


def inc(x: int) -> int:
    return x + 1


def mpi_rank(x: int) -> int:
    from mpi4py import MPI

    return MPI.COMM_WORLD.Get_rank() + x


def echo_array(array):
    """The array back (benchmarks/payload.py)."""
    return array


def total_array(array):
    """A float for an array (benchmarks/payload.py)."""
    return float(array.sum())
