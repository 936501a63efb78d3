"""Reading cache files through h5py: the slow path, for files we did not write ourselves.

Files written by executorlib (gzip-compressed chunked datasets, no header of ours) and files of ours that
someone modified with the HDF5 library (executorlib's cluster backend appends to ``_i.h5`` files) cannot be
read by byte offset, so they go through h5py (~0.3 ms per file instead of ~10 µs).  h5py is imported lazily:
the executor asks for it once, when a cache is requested, through ``require_h5py``.
"""

from __future__ import annotations

from types import ModuleType

from executor.cache.errors import missing_h5py_error

_h5py: ModuleType | None = None


def require_h5py() -> ModuleType:
    """Return the h5py module, or raise ImportError naming the ``cache`` extra."""
    global _h5py
    if _h5py is None:
        try:
            import h5py
        except ImportError as exc:
            raise missing_h5py_error() from exc
        _h5py = h5py
    return _h5py


def read_raw(path: str, names: tuple[str, ...] | None = None) -> tuple[dict[str, bytes], dict[str, int]]:
    """Return ``(datasets, int_attributes)`` of an HDF5 cache file: raw bytes of each 1-D dataset.

    ``names`` restricts which datasets are read.  Raises ``OSError`` for files HDF5 cannot open
    (truncated, not HDF5) and ``KeyError``/``TypeError`` for unexpected content.
    """
    h5py = require_h5py()
    with h5py.File(path, "r") as hdf:
        wanted = [n for n in (hdf.keys() if names is None else names) if n in hdf]
        # groups and other objects are not cache datasets: skip them rather than fail on them
        datasets = {name: hdf[name][()].tobytes() for name in wanted if isinstance(hdf[name], h5py.Dataset)}
        attrs = {}
        for key, value in hdf.attrs.items():
            try:
                attrs[key] = int(value)
            except (TypeError, ValueError):
                continue
    return datasets, attrs
