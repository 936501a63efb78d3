"""Cache file storage: atomic writes, a ~10 µs hit path, and the policy for damaged or foreign files.

```
 store_output / write_file                       load_output (executor hot path)
   datasets {name: pickled bytes}                  os.open ─ FileNotFoundError ──────────────► miss
        │ h5image.build_image                        │ one os.read of the first 16 KiB
        ▼                                            ▼
   [user block: our header][HDF5 file]            our magic?  no ──► h5py_reader (executorlib's files)
        │ write <name>.<pid>-<n>.tmp                 │ yes: version? header crc? size / HDF5 end-of-file
        ▼ os.replace                                 │      match what we wrote? (else: modified by HDF5 → h5py)
   <key>_o.h5   (readers see old or new, never half) ▼ slice "output" (or pread), crc32, cloudpickle.loads
```

Why this design (measured on this machine, small results): h5py needs ~0.7 ms to write and ~0.26 ms to open
and read one file; a hit must cost well under 50 µs.  We therefore write the HDF5 bytes ourselves
(``h5image``) and put a small header in the HDF5 *user block* -- the region before the superblock that HDF5
readers skip -- listing each dataset's absolute byte offset, length and crc32.  A hit is then one open, one
read and one close (~10 µs), while the file stays an ordinary HDF5 file that executorlib and h5py read (the
datasets are plain contiguous ``uint8`` arrays, without executorlib's gzip: the payloads are pickles, which
barely compress, and compression would hide the byte offsets).  An in-memory index was not needed: a miss is
one failed ``open`` (~2 µs), cheaper and always fresh, even when another process writes the directory.

Header (first bytes of the 512-byte user block, little endian)::

    magic "XLIBH5\\r\\n" | format version u16 | dataset count u16 | crc32 of the user block u32 | file size u64
    count × (name 16 bytes | absolute offset u64 | length u64 | crc32 u32 | 4 pad)
    u16 length + JSON {"writer", "python", "cloudpickle", "function"} -- only read by tools and messages

The format version is also stored as the root attribute ``pytest_executorlib_format`` for h5py users.

Atomicity: a file is written completely under a temporary name in the same directory, then ``os.replace``d
onto its final name, so a reader sees the old file, the new file, or none -- never part of one; two writers of
the same key both finish and the last rename wins, leaving one valid file.  No fsync: after a power loss a
file may be empty or short, which the next lookup reports as damaged (one warning) and the next store
rewrites, which is the same outcome as a lost cache entry.

Policy: on ``load_output`` (the executor's lookup) nothing raises -- a truncated or damaged file, a file that
cannot be unpickled here (e.g. written by another Python version), or one with another format version is a
miss with one warning per file state, and the executor's next store replaces it.  ``read_file`` (used by the
public functions and the CLI) raises ``CacheCorruptError`` / ``CacheVersionError`` instead.

Length: this module is longer than the ~300 lines the project aims for because it is one binary format -- the
header layout, its writer, its reader and the damage policy all depend on the same offsets; split apart, a
change to the layout would have to be made in several files at once.  (``h5image`` and ``h5py_reader``, which
do not depend on the header, are separate.)
"""

from __future__ import annotations

import itertools
import json
import os
import struct
import sys
import threading
import warnings
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import cloudpickle

from executor._version import __version__
from executor.cache import h5image, h5py_reader
from executor.cache.errors import (
    CacheCorruptError,
    CacheCorruptWarning,
    CacheVersionError,
    CacheVersionWarning,
)

#: Version of the file layout written here.  Bump it when the meaning or placement of anything changes;
#: files of another version are never read by byte offset.
FORMAT_VERSION = 1
FORMAT_ATTRIBUTE = "pytest_executorlib_format"

#: executorlib's dataset names (``standalone/hdf.py``); each holds the cloudpickled value as 1-D uint8.
DATASET_NAMES = (
    "function",
    "input_args",
    "input_kwargs",
    "output",
    "error",
    "resource_dict",
    "runtime",
    "queue_id",
    "error_log_file",
)

_MAGIC = b"XLIBH5\r\n"
_HEAD = struct.Struct("<8sHHIQ")
_ENTRY = struct.Struct("<16sQQI4x")
_META_LEN = struct.Struct("<H")
_EOF_FIELD = struct.Struct("<Q")  # superblock v0 end-of-file address, at user block + 40
_EOF_OFFSET = h5image.USERBLOCK_SIZE + 40
# One read covers header and data of typical small results (a few KiB); larger outputs get one pread more.
_FIRST_READ = 16384
_O_FLAGS = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)

_MISS: tuple[bool, Any] = (False, None)
_temp_counter = itertools.count()
_known_dirs: set[str] = set()
_warned: set[tuple[str, int, int, str]] = set()
_warned_lock = threading.Lock()


class _Foreign(Exception):
    """Not one of our files, or one modified since we wrote it: read it through h5py."""


class _Damaged(Exception):
    """Our header says one thing, the bytes another."""


class _OtherVersion(Exception):
    def __init__(self, version: int, meta: dict[str, Any]) -> None:
        super().__init__(version)
        self.version = version
        self.meta = meta


@dataclass
class CacheFile:
    """Everything in one cache file: raw (pickled) datasets, the format version, writer metadata."""

    path: str
    datasets: dict[str, bytes]
    version: int | None  # None: no version mark (written by executorlib or plain h5py)
    meta: dict[str, Any] = field(default_factory=dict)

    def load(self, name: str) -> Any:
        """Unpickle one dataset (``KeyError`` if absent)."""
        return cloudpickle.loads(self.datasets[name])


# ----------------------------------------------------------------------------------------------- writing


def pickle_value(value: Any) -> bytes:
    """cloudpickle ``value``, as every dataset is stored."""
    return cloudpickle.dumps(value)


def encode(datasets: Mapping[str, bytes], function_name: str | None = None) -> bytes:
    """Return the complete bytes of a cache file holding ``datasets`` (name -> pickled bytes)."""
    unknown = set(datasets) - set(DATASET_NAMES)
    if unknown:
        raise ValueError(f"unknown cache dataset name(s) {sorted(unknown)}; expected some of {DATASET_NAMES}")
    image, spans = h5image.build_image(datasets, {FORMAT_ATTRIBUTE: FORMAT_VERSION})
    names = sorted(spans)
    pos = _HEAD.size
    for name in names:
        span = spans[name]
        _ENTRY.pack_into(image, pos, name.encode(), span.offset, span.length, zlib.crc32(datasets[name]))
        pos += _ENTRY.size
    meta = {
        "writer": f"pytest-executorlib {__version__}",
        "python": "%d.%d.%d" % sys.version_info[:3],
        "cloudpickle": cloudpickle.__version__,
    }
    if function_name:
        meta["function"] = function_name
    room = h5image.USERBLOCK_SIZE - pos - _META_LEN.size
    meta_b = json.dumps(meta, separators=(",", ":")).encode()
    if len(meta_b) > room:  # only a very long function name can overflow; drop it rather than fail
        meta.pop("function", None)
        meta_b = json.dumps(meta, separators=(",", ":")).encode()[:room]
    _META_LEN.pack_into(image, pos, len(meta_b))
    image[pos + _META_LEN.size : pos + _META_LEN.size + len(meta_b)] = meta_b
    _HEAD.pack_into(image, 0, _MAGIC, FORMAT_VERSION, len(names), 0, len(image))
    crc = zlib.crc32(memoryview(image)[: h5image.USERBLOCK_SIZE])
    _HEAD.pack_into(image, 0, _MAGIC, FORMAT_VERSION, len(names), crc, len(image))
    return bytes(image)


def write_atomic(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` so that no reader ever sees a partial file (temp file + ``os.replace``)."""
    directory = os.path.dirname(path) or "."
    if directory not in _known_dirs:
        os.makedirs(directory, exist_ok=True)
        _known_dirs.add(directory)
    # pid + counter keep names unique within a host; the random part across hosts sharing a file system.
    tmp = f"{path}.{os.getpid()}-{next(_temp_counter)}{os.urandom(3).hex()}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
    except FileNotFoundError:  # directory removed since we created it (e.g. by `cache clean`)
        _known_dirs.discard(directory)
        os.makedirs(directory, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_file(path: str, datasets: Mapping[str, bytes], function_name: str | None = None) -> None:
    """Atomically write a cache file (input or output) holding ``datasets`` (name -> pickled bytes)."""
    write_atomic(path, encode(datasets, function_name))


def store_output(
    path: str,
    output: bytes,
    *,
    function: bytes | None = None,
    input_args: bytes | None = None,
    input_kwargs: bytes | None = None,
    resource_dict: bytes | None = None,
    runtime: bytes | None = None,
    function_name: str | None = None,
) -> None:
    """Atomically write an ``_o.h5`` file from already-pickled bytes (nothing is pickled here).

    Only successful results belong here: errors are not cached.  ``runtime`` is the pickled float seconds
    executorlib stores.  Inputs are optional but executorlib's ``get_cache_data`` shows them, so pass them.
    """
    datasets = {"output": output}
    for name, value in (
        ("function", function),
        ("input_args", input_args),
        ("input_kwargs", input_kwargs),
        ("resource_dict", resource_dict),
        ("runtime", runtime),
    ):
        if value is not None:
            datasets[name] = value
    write_atomic(path, encode(datasets, function_name))


def add_datasets(path: str, datasets: Mapping[str, bytes]) -> None:
    """Add or replace datasets of an existing file (e.g. ``queue_id`` in an ``_i.h5``) by rewriting it atomically.

    Read-modify-write: two processes adding to the same file at once may lose one update; only the owner of
    a task (the process that submitted it) should call this.
    """
    try:
        current = read_file(path, DATASET_NAMES)
        merged = dict(current.datasets)
        function_name = current.meta.get("function")
    except FileNotFoundError:
        merged, function_name = {}, None
    merged.update(datasets)
    write_file(path, merged, function_name)


# ----------------------------------------------------------------------------------------------- reading


def _parse_header(buf: bytes) -> tuple[int, dict[str, tuple[int, int, int]]]:
    """Return ``(file_size, {name: (offset, length, crc)})`` from the first bytes of a file."""
    if len(buf) < _HEAD.size or buf[:8] != _MAGIC:
        if len(buf) < 8 and _MAGIC.startswith(bytes(buf)) and buf:
            raise _Damaged("file shorter than its header")
        raise _Foreign
    _magic, version, count, crc, size = _HEAD.unpack_from(buf)
    if version != FORMAT_VERSION:
        raise _OtherVersion(version, _parse_meta(buf, count))
    if len(buf) < h5image.USERBLOCK_SIZE:
        raise _Damaged(f"file is {len(buf)} bytes, shorter than its {h5image.USERBLOCK_SIZE}-byte header")
    check = zlib.crc32(buf[:12])
    check = zlib.crc32(b"\0\0\0\0", check)
    check = zlib.crc32(buf[16 : h5image.USERBLOCK_SIZE], check)
    if check != crc or count > len(DATASET_NAMES):
        raise _Damaged("header checksum mismatch")
    entries = {}
    pos = _HEAD.size
    for _ in range(count):
        name, offset, length, dcrc = _ENTRY.unpack_from(buf, pos)
        entries[name.rstrip(b"\0").decode()] = (offset, length, dcrc)
        pos += _ENTRY.size
    return size, entries


def _parse_meta(buf: bytes, count: int) -> dict[str, Any]:
    try:
        pos = _HEAD.size + count * _ENTRY.size
        (n,) = _META_LEN.unpack_from(buf, pos)
        meta = json.loads(bytes(buf[pos + 2 : pos + 2 + n]))
        return meta if isinstance(meta, dict) else {}
    except Exception:
        return {}


def _read_fast(fd: int, names: tuple[str, ...] | None) -> dict[str, bytes]:
    """Read datasets of one of our unmodified files by offset; raise _Foreign/_Damaged/_OtherVersion."""
    buf = os.read(fd, _FIRST_READ)
    size, entries = _parse_header(buf)
    have = len(buf)
    if have < size:
        if have < _FIRST_READ:
            raise _Damaged(f"file is {have} bytes, its header says {size} (truncated)")
        actual = os.fstat(fd).st_size
        if actual < size:
            raise _Damaged(f"file is {actual} bytes, its header says {size} (truncated)")
        if actual > size:
            raise _Foreign
    elif have > size:
        raise _Foreign  # grown since we wrote it: the HDF5 library appended to it
    if len(buf) >= _EOF_OFFSET + 8 and _EOF_FIELD.unpack_from(buf, _EOF_OFFSET)[0] != size:
        raise _Foreign  # rewritten in place by the HDF5 library
    out = {}
    for name, (offset, length, crc) in entries.items():
        if names is not None and name not in names:
            continue
        end = offset + length
        data = buf[offset:end] if end <= have else os.pread(fd, length, offset)
        if len(data) != length or zlib.crc32(data) != crc:
            raise _Damaged(f"dataset {name!r} fails its checksum")
        out[name] = data
    return out


def _version_message(path: str, version: int | None, meta: Mapping[str, Any]) -> str:
    writer = f" by {meta['writer']}" if meta.get("writer") else ""
    return (
        f"cache file {path} has format version {version} (written{writer}); pytest-executorlib {__version__} "
        f"reads format version {FORMAT_VERSION}. Caches are not compatible across versions: the file is "
        f"ignored (and overwritten when the task runs again); remove old caches with "
        f"'python -m executor cache clean'."
    )


def read_file(path: str, names: tuple[str, ...] | None = None) -> CacheFile:
    """Read a cache file (ours or executorlib's): raw datasets, format version and writer metadata.

    Raises ``FileNotFoundError`` if absent, ``CacheVersionError`` for another format version,
    ``CacheCorruptError`` for a file that cannot be read.
    """
    fd = os.open(path, _O_FLAGS)
    try:
        try:
            datasets = _read_fast(fd, names)
            head = os.pread(fd, h5image.USERBLOCK_SIZE, 0)
            return CacheFile(path, datasets, FORMAT_VERSION, _parse_meta(head, _HEAD.unpack_from(head)[2]))
        except _OtherVersion as exc:
            raise CacheVersionError(_version_message(path, exc.version, exc.meta)) from None
        except _Damaged as exc:
            raise CacheCorruptError(f"cache file {path} is damaged: {exc}") from None
        except _Foreign:
            pass
    finally:
        os.close(fd)
    return _read_slow(path, names)


def _read_slow(path: str, names: tuple[str, ...] | None) -> CacheFile:
    try:
        datasets, attrs = h5py_reader.read_raw(path, names)
    except ImportError:
        raise
    except FileNotFoundError:
        raise
    except Exception as exc:
        raise CacheCorruptError(f"cache file {path} cannot be read as HDF5: {exc}") from None
    version = attrs.get(FORMAT_ATTRIBUTE)
    if version is not None and version != FORMAT_VERSION:
        raise CacheVersionError(_version_message(path, version, {}))
    return CacheFile(path, datasets, version, {})


def _warn_once(category: type[Warning], path: str, message: str) -> None:
    """Warn about ``path`` once per file state (a rewritten file may warn again)."""
    try:
        st = os.stat(path)
        ident = (path, st.st_mtime_ns, st.st_size, category.__name__)
    except OSError:
        ident = (path, 0, 0, category.__name__)
    with _warned_lock:
        if ident in _warned:
            return
        _warned.add(ident)
    warnings.warn(message, category, stacklevel=3)


def load_output(path: str) -> tuple[bool, Any]:
    """The executor's lookup: ``(True, result)`` on a hit, ``(False, None)`` otherwise.  Never raises
    for bad files (one warning, then a miss); raises ImportError only if a foreign file needs h5py."""
    try:
        fd = os.open(path, _O_FLAGS)
    except (FileNotFoundError, NotADirectoryError):
        return _MISS
    try:
        try:
            data = _read_fast(fd, ("output",)).get("output")
        except _Foreign:
            data = None
            foreign = True
        else:
            foreign = False
    except _OtherVersion as exc:
        _warn_once(CacheVersionWarning, path, _version_message(path, exc.version, exc.meta))
        return _MISS
    except (_Damaged, OSError) as exc:
        _warn_once(CacheCorruptWarning, path, f"cache file {path} is damaged ({exc}); recomputing it")
        return _MISS
    finally:
        os.close(fd)
    if foreign:
        try:
            data = _read_slow(path, ("output",)).datasets.get("output")
        except FileNotFoundError:
            return _MISS
        except CacheVersionError as exc:
            _warn_once(CacheVersionWarning, path, str(exc))
            return _MISS
        except CacheCorruptError as exc:
            _warn_once(CacheCorruptWarning, path, f"{exc}; recomputing it")
            return _MISS
    if data is None:
        return _MISS  # an input file, or an error record (errors are not cached results)
    try:
        return True, cloudpickle.loads(data)
    except Exception as exc:
        _warn_once(
            CacheCorruptWarning,
            path,
            f"cache file {path}: the stored output cannot be unpickled here ({type(exc).__name__}: {exc}); "
            f"recomputing it",
        )
        return _MISS
