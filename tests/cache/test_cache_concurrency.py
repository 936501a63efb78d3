"""Real processes writing and reading the same key at once: readers never see a partial file, one file remains."""

from __future__ import annotations

import multiprocessing
import os

from cache_helpers import HAS_EXECUTORLIB, read_while_written, write_same_key

from executor.cache.store import load_output


def test_two_writers_and_readers_on_one_key(tmp_path):
    path = str(tmp_path / "sub" / "same_o.h5")
    stop = str(tmp_path / "stop")
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(4) as pool:
        readers = [
            pool.apply_async(read_while_written, (path, stop, False)),
            pool.apply_async(read_while_written, (path, stop, HAS_EXECUTORLIB)),
        ]
        writers = [pool.apply_async(write_same_key, (path, w, 150)) for w in (1, 2)]
        for w in writers:
            w.get(timeout=120)
        open(stop, "w").close()
        results = [r.get(timeout=120) for r in readers]
    for hits, _misses, problems in results:
        assert problems == []
        assert hits > 0
    assert os.listdir(tmp_path / "sub") == ["same_o.h5"]  # no temporary files left
    found, (writer, i, _payload) = load_output(path)
    assert found and writer in (1, 2) and i == 149
