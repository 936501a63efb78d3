"""``python -m executor cache list|clean|find`` through main(argv), plus one real subprocess run."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import pytest
from cache_helpers import add, needs_h5py

from executor.cache import paths
from executor.cache.key import task_key
from executor.cache.store import pickle_value, store_output, write_file
from executor.cli import cache as cache_cli
from executor.cli.main import main


def make_cache(directory: str) -> None:
    store_output(paths.output_path(directory, task_key(add, (1,), {})), pickle_value(1),
                 function=pickle_value(add), function_name="add")
    store_output(paths.output_path(directory, "group/custom"), pickle_value(2), function=pickle_value(add))
    write_file(paths.input_path(directory, "waiting"), {"function": pickle_value(add), "queue_id": pickle_value(5)})


def age(path: str, seconds: float) -> None:
    past = time.time() - seconds
    os.utime(path, (past, past))


def test_list_shows_key_function_status_size_age(tmp_path, capsys):
    d = str(tmp_path / "c")
    make_cache(d)
    (tmp_path / "c" / "broken_o.h5").write_bytes(b"xx")
    assert main(["cache", "list", d]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split() == ["KEY", "FUNCTION", "STATUS", "SIZE", "AGE"]
    row = {line.split()[0]: line for line in lines[1:-1]}
    assert set(row) == {task_key(add, (1,), {}), "group/custom", "waiting", "broken"}
    assert " add " in row["group/custom"] and "done" in row["group/custom"]
    assert "queued/running (job 5)" in row["waiting"]
    assert "damaged" in row["broken"]
    assert lines[-1].startswith("4 entries")


def test_list_of_empty_and_missing_directories(tmp_path, capsys):
    assert main(["cache", "list", str(tmp_path)]) == 0
    assert "no cache files" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="not a directory"):
        main(["cache", "list", str(tmp_path / "nope")])


def test_clean_dry_run_then_older_than_then_all(tmp_path, capsys):
    d = str(tmp_path / "c")
    make_cache(d)
    old = paths.output_path(d, "group/custom")
    age(old, 3 * 86400)
    (tmp_path / "c" / "unrelated.txt").write_text("keep me")
    assert main(["cache", "clean", d, "--older-than", "2d", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"would remove {old}" in out and "would remove 1 files" in out
    assert os.path.exists(old)

    assert main(["cache", "clean", d, "--older-than", "2d"]) == 0
    assert not os.path.exists(old)
    assert not os.path.exists(os.path.dirname(old))  # emptied key sub-directory is removed too
    assert len(list(paths.iter_cache_files(d))) == 2

    assert main(["cache", "clean", d]) == 0
    assert list(paths.iter_cache_files(d)) == []
    assert os.listdir(d) == ["unrelated.txt"]


def test_clean_leaves_recent_temp_files_and_removes_stale_ones(tmp_path, capsys):
    d = tmp_path / "c"
    d.mkdir()
    fresh = d / "k_o.h5.123-1.tmp"
    stale = d / "j_o.h5.123-2.tmp"
    fresh.write_bytes(b"partial")
    stale.write_bytes(b"partial")
    age(str(stale), 2 * cache_cli.TEMP_GRACE_SECONDS)
    main(["cache", "clean", str(d)])
    assert fresh.exists() and not stale.exists()


@needs_h5py
def test_clean_keeps_unrelated_hdf5_files_named_like_cache_files(tmp_path):
    import h5py

    path = str(tmp_path / "data_o.h5")
    with h5py.File(path, "w") as hdf:
        hdf["temperature"] = [1.0, 2.0]
    main(["cache", "clean", str(tmp_path)])
    assert os.path.exists(path)


def test_find_reports_cache_directories_with_total_size(tmp_path, capsys):
    make_cache(str(tmp_path / "proj" / "executorlib_cache"))
    make_cache(str(tmp_path / "other" / "deep" / "cache"))
    (tmp_path / "proj" / "src").mkdir()
    assert main(["cache", "find", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    found = [line.split()[0] for line in out.splitlines()[1:-1]]
    # keys with "/" put files in sub-directories; they are reported as part of their cache directory
    assert found == [str(tmp_path / "other" / "deep" / "cache"), str(tmp_path / "proj" / "executorlib_cache")]
    assert "3" in out.splitlines()[1].split()  # three files each
    assert out.splitlines()[-1].startswith("2 cache directories")
    caches = cache_cli.find_caches(str(tmp_path))
    expected = sum(
        os.path.getsize(p) for p in paths.iter_cache_files(str(tmp_path / "proj" / "executorlib_cache"))
    )
    assert [c.size for c in caches if c.path.endswith("executorlib_cache")] == [expected]


@pytest.mark.parametrize(("text", "seconds"), [("30m", 1800), ("2h", 7200), ("7d", 604800), ("1w", 604800),
                                                ("45", 45), ("1.5h", 5400), ("10s", 10)])
def test_parse_age(text, seconds):
    assert cache_cli.parse_age(text) == seconds


@pytest.mark.parametrize("text", ["", "h", "3x", "-1d", "1 2d"])
def test_parse_age_rejects(text):
    with pytest.raises(argparse.ArgumentTypeError):
        cache_cli.parse_age(text)


def test_bad_age_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["cache", "clean", str(tmp_path), "--older-than", "soon"])
    assert info.value.code == 2
    assert "e.g. 30m, 2h, 7d" in capsys.readouterr().err


def test_module_entry_point_runs_in_a_subprocess(tmp_path):
    make_cache(str(tmp_path))
    result = subprocess.run(
        [sys.executable, "-m", "executor", "cache", "list", str(tmp_path)],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "waiting" in result.stdout and "3 entries" in result.stdout
    usage = subprocess.run([sys.executable, "-m", "executor"], capture_output=True, text=True, timeout=60)
    assert usage.returncode == 2 and "cache" in usage.stderr
