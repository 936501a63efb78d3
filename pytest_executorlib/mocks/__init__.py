"""Mock clusters for tests: :mod:`pytest_executorlib.mocks.slurm` (a mock SLURM) and
:mod:`pytest_executorlib.mocks.flux` (a mock flux).  :mod:`.pmi` (the PMI-1 server for MPI) is shared by both;
the mock flux also reuses the mock SLURM's SQLite plumbing (:mod:`.slurm.db`) and wake-up datagrams
(:func:`.slurm.common.notify`).

Each mock is a folder of small modules behind one public class; the command-line programs a mock puts on
``PATH`` import only what they need (nothing from pytest), so they start as fast as the real ones.
"""
