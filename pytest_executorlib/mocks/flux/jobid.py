"""Flux job ids (FLUIDs) and their text encodings, in pure Python (the real ``flux.job.JobID`` needs libflux).

A FLUID is a 64-bit integer ``[ms timestamp:40 | generator id:14 | sequence:10]``.  Encodings (flux-core
``fluid.c``): decimal, ``0x`` hex, dothex (four 16-bit groups ``0000.0001.3d00.0000``), kvs (``job.`` + dothex)
and f58 (base58, most significant digit first, prefix ``ƒ`` in a UTF-8 locale unless ``FLUX_F58_FORCE_ASCII``
is set, else ``f``).  The mnemonic ``words`` and ``emoji`` encodings need flux-core's word and emoji tables,
which the mock does not ship: they raise :class:`NotImplementedError` naming that (see docs/flux.md).
"""

from __future__ import annotations

import os

F58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_F58_VALUE = {c: i for i, c in enumerate(F58_ALPHABET)}
_MAX = (1 << 64) - 1
ENCODINGS = ("dec", "hex", "dothex", "kvs", "f58", "f58plain", "words", "emoji")


def f58_prefix() -> str:
    """``ƒ`` when the locale is multibyte UTF-8 and ``FLUX_F58_FORCE_ASCII`` is unset, otherwise ``f``."""
    if os.environ.get("FLUX_F58_FORCE_ASCII"):
        return "f"
    import locale

    try:
        codeset = locale.nl_langinfo(locale.CODESET)
    except (AttributeError, ValueError):  # pragma: no cover - no nl_langinfo
        codeset = locale.getpreferredencoding(False)
    return "ƒ" if codeset.replace("-", "").upper() == "UTF8" else "f"


def f58plain(value: int) -> str:
    if value == 0:
        return F58_ALPHABET[0]
    digits = []
    while value:
        value, rem = divmod(value, 58)
        digits.append(F58_ALPHABET[rem])
    return "".join(reversed(digits))


def encode(value: int, encoding: str = "dec") -> str:
    """``value`` in ``encoding`` (one of :data:`ENCODINGS`); ValueError naming the accepted ones otherwise."""
    if encoding == "dec":
        return str(value)
    if encoding == "hex":
        return f"0x{value:x}"
    if encoding == "dothex":
        h = f"{value:016x}"
        return ".".join(h[i:i + 4] for i in range(0, 16, 4))
    if encoding == "kvs":
        return "job." + encode(value, "dothex")
    if encoding == "f58":
        return f58_prefix() + f58plain(value)
    if encoding == "f58plain":
        return f58plain(value)
    if encoding in ("words", "emoji"):
        raise NotImplementedError(f"the mock flux has no {encoding!r} jobid encoding (it needs flux-core's "
                                  f"{'mnemonic word' if encoding == 'words' else 'emoji'} table); "
                                  "use dec, hex, dothex, kvs or f58")
    raise ValueError(f"unknown jobid encoding {encoding!r}; accepted: {', '.join(ENCODINGS)}")


def parse(text: str) -> int | None:
    """The id ``text`` encodes, or None when it is not a jobid in a supported encoding."""
    s = text.strip()
    if not s:
        return None
    try:
        if s.isdigit():
            value = int(s)
        elif s[:2] in ("0x", "0X"):
            value = int(s[2:], 16)
        elif s.startswith("job.") or (s.count(".") == 3 and len(s) == 19):
            groups = (s[4:] if s.startswith("job.") else s).split(".")
            if len(groups) != 4 or any(len(g) != 4 for g in groups):
                return None
            value = int("".join(groups), 16)
        elif s[0] in ("ƒ", "f") and len(s) > 1:
            value = 0
            for c in s[1:]:
                value = value * 58 + _F58_VALUE[c]
        else:
            return None
    except (ValueError, KeyError):
        return None
    return value if 0 <= value <= _MAX else None


def check_int(value: int) -> int:
    if value < 0 or value > _MAX:
        raise OverflowError(f"{value} is out of range for a Flux jobid (0 .. 2**64-1)")
    return value


class JobID(int):
    """A Flux job id: ``JobID(59106131968) == JobID("ƒ2Z41Noq") == JobID("0xdc3000000")``; ``str()`` is f58."""

    orig: str

    def __new__(cls, value: int | str | bytes) -> JobID:
        if isinstance(value, bytes):
            value = value.decode()
        if isinstance(value, int):
            obj = super().__new__(cls, check_int(int(value)))
            obj.orig = str(int(value))
            return obj
        if not isinstance(value, str):
            raise TypeError(f"JobID expects an int or a str, got {type(value).__name__}")
        parsed = parse(value)
        if parsed is None:
            raise ValueError(f"{value} is not a valid Flux jobid")
        obj = super().__new__(cls, parsed)
        obj.orig = value
        return obj

    def encode(self, encoding: str = "dec") -> str:
        return encode(int(self), encoding)

    @property
    def dec(self) -> str:
        return encode(int(self), "dec")

    @property
    def f58(self) -> str:
        return encode(int(self), "f58")

    @property
    def f58plain(self) -> str:
        return encode(int(self), "f58plain")

    @property
    def hex(self) -> str:
        return encode(int(self), "hex")

    @property
    def dothex(self) -> str:
        return encode(int(self), "dothex")

    @property
    def kvs(self) -> str:
        return encode(int(self), "kvs")

    @property
    def words(self) -> str:
        return encode(int(self), "words")

    @property
    def emoji(self) -> str:
        return encode(int(self), "emoji")

    def __str__(self) -> str:
        return self.f58

    def __repr__(self) -> str:
        return f"JobID({int(self)})"

    def __format__(self, spec: str) -> str:
        return str(self) if not spec else int.__format__(int(self), spec)
