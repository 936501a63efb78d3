"""Mock clusters for tests: :mod:`pytest_executorlib.mocks.slurm` (a mock SLURM).

Each mock is a folder of small modules behind one public class; the command-line programs a mock puts on
``PATH`` import only what they need (nothing from pytest), so they start as fast as the real ones.
"""
