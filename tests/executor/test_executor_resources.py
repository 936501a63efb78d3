"""resource_dict: validation at submit (named keys, accepted keys), limits, and no mutation of the caller's dict."""

from __future__ import annotations

import copy
import os
import pathlib

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import xcalls
from executor import SingleNodeExecutor
from executor.tasks.resources import validate

pytestmark = pytest.mark.timeout(60)

# The keys executorlib documents for resource_dict (docs/executorlib-interface.md).
DOCUMENTED_KEYS = (
    "cores", "threads_per_core", "gpus_per_core", "cwd", "cache_key", "cache_directory", "num_nodes", "exclusive",
    "error_log_file", "run_time_max", "priority", "slurm_cmd_args",
)  # fmt: skip

_paths = st.one_of(st.text(min_size=1, max_size=20), st.builds(pathlib.Path, st.text(min_size=1, max_size=20)))
_not_a_path = st.one_of(st.integers(), st.lists(st.integers(), max_size=2), st.floats(allow_nan=False))

# Values a user may clearly give for each key ...
VALID = {
    "cores": st.integers(1, 128),
    "threads_per_core": st.integers(1, 16),
    "gpus_per_core": st.integers(0, 8),
    "cwd": st.none() | _paths,
    "cache_key": st.none() | st.text(min_size=1, max_size=20),
    "cache_directory": st.none() | _paths,
    "num_nodes": st.none() | st.integers(1, 16),
    "exclusive": st.booleans(),
    "error_log_file": st.none() | _paths,
    "run_time_max": st.none() | st.integers(1, 10**6) | st.floats(0.001, 1e6),
    "priority": st.integers(-1000, 1000),
    "slurm_cmd_args": st.lists(st.text(max_size=10), max_size=3),
}
# ... and values that are clearly wrong (wrong type, or out of range).
INVALID = {
    "cores": st.integers(max_value=0) | st.booleans() | st.text(max_size=3) | st.floats(allow_nan=False),
    "threads_per_core": st.integers(max_value=0) | st.booleans() | st.text(max_size=3) | st.floats(allow_nan=False),
    "gpus_per_core": st.integers(max_value=-1) | st.text(max_size=3) | st.floats(allow_nan=False),
    "cwd": _not_a_path,
    "cache_key": st.integers() | st.lists(st.text(), min_size=1, max_size=2),
    "cache_directory": _not_a_path,
    "num_nodes": st.integers(max_value=0) | st.text(max_size=3),
    "exclusive": st.text(max_size=3) | st.lists(st.booleans(), max_size=2),
    "error_log_file": _not_a_path,
    "run_time_max": st.integers(max_value=0) | st.floats(max_value=0.0, allow_nan=False) | st.text(max_size=3),
    "priority": st.text(max_size=3) | st.floats(0.1, 0.9) | st.lists(st.integers(), max_size=2),
    "slurm_cmd_args": st.text(min_size=1, max_size=5) | st.lists(st.integers(), min_size=1, max_size=3) | st.integers(),
}
_unknown_keys = st.from_regex(r"\A[a-z_]{1,14}\Z").filter(lambda k: k not in VALID and k != "openmpi_oversubscribe")


@st.composite
def resource_dicts(draw):
    """``(resource_dict, invalid_keys)``: valid entries plus zero or more invalid ones, in random order."""
    entries = draw(st.fixed_dictionaries({}, optional=VALID))
    bad_known = draw(st.lists(st.sampled_from(sorted(INVALID)), unique=True, max_size=2))
    bad_unknown = draw(st.lists(_unknown_keys, unique=True, max_size=1))
    invalid = set(bad_known) | set(bad_unknown)
    for key in bad_known:
        entries[key] = draw(INVALID[key])
    for key in bad_unknown:
        entries[key] = draw(st.integers() | st.text(max_size=3))
    items = draw(st.permutations(list(entries.items())))
    return dict(items), invalid


def _assert_names_a_bad_key(error: BaseException, invalid: set[str]) -> None:
    message = str(error)
    named = [key for key in invalid if repr(key) in message or key in message]
    assert named, f"{message!r} names none of the invalid keys {sorted(invalid)}"
    # A message about a known key's bad value may quote an unknown key by chance (cache_key=['_'] next to an
    # unknown key '_'); only a message that names no known key must be the unknown-key error.
    if not any(key in VALID for key in named):
        assert isinstance(error, ValueError)
        missing = [key for key in DOCUMENTED_KEYS if key not in message]
        assert not missing, f"the message must list the accepted keys; missing {missing}: {message!r}"


@settings(max_examples=300, deadline=None, database=None)
@given(resource_dicts())
@example(({"cache_key": ["_"], "_": 0}, {"_", "cache_key"}))  # a bad value that quotes the unknown key
def test_validate_accepts_valid_and_names_the_bad_key(case) -> None:
    resource_dict, invalid = case
    before = copy.deepcopy(resource_dict)
    if not invalid:
        validate(resource_dict)
    else:
        with pytest.raises((TypeError, ValueError)) as info:
            validate(resource_dict)
        _assert_names_a_bad_key(info.value, invalid)
    assert resource_dict == before, "validation must not modify the dict"


@pytest.mark.parametrize("key", DOCUMENTED_KEYS)
def test_validate_accepts_every_documented_key(key: str) -> None:
    samples = {
        "cores": 2, "threads_per_core": 2, "gpus_per_core": 1, "cwd": "/tmp", "cache_key": "a/b",
        "cache_directory": "cache", "num_nodes": 1, "exclusive": False, "error_log_file": "err.txt",
        "run_time_max": 60, "priority": 3, "slurm_cmd_args": ["--mem=1G"],
    }  # fmt: skip
    validate({key: samples[key]})


@pytest.fixture(scope="module")
def shared_executor():
    """One default-mode executor for the property test below (invalid dicts never start anything)."""
    with SingleNodeExecutor(max_cores=4) as ex:
        yield ex


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(resource_dicts().filter(lambda case: case[1]))
def test_submit_rejects_invalid_resource_dicts(shared_executor, case) -> None:
    resource_dict, invalid = case
    before = copy.deepcopy(resource_dict)
    with pytest.raises((TypeError, ValueError)) as info:
        shared_executor.submit(xcalls.identity, 1, resource_dict=resource_dict)
    _assert_names_a_bad_key(info.value, invalid)
    assert resource_dict == before


# ---- end to end, both modes ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "resource_dict, error, key",
    [
        ({"core": 2}, ValueError, "core"),
        ({"cores": "2"}, TypeError, "cores"),
        ({"threads_per_core": 0}, ValueError, "threads_per_core"),
        ({"gpus_per_core": 1.5}, TypeError, "gpus_per_core"),
        ({"priority": "high"}, TypeError, "priority"),
    ],
)
def test_submit_raises_for_a_bad_resource_dict(make_executor, resource_dict, error, key) -> None:
    ex = make_executor(max_workers=2)
    with pytest.raises(error, match=repr(key)):
        ex.submit(xcalls.identity, 1, resource_dict=resource_dict)
    assert ex.submit(xcalls.identity, 1).result(timeout=10) == 1


def test_unknown_key_error_lists_the_accepted_keys(make_executor) -> None:
    ex = make_executor(max_workers=1)
    with pytest.raises(ValueError) as info:
        ex.submit(xcalls.identity, 1, resource_dict={"memory": "1G"})
    assert "'memory'" in str(info.value)
    assert all(key in str(info.value) for key in DOCUMENTED_KEYS)
    assert ex.submit(xcalls.identity, 1).result(timeout=10) == 1


@pytest.mark.parametrize("resource_dict, error", [({"cores": 0}, ValueError), ({"corez": 1}, ValueError), ({"cwd": 5}, TypeError)])
def test_constructor_raises_for_a_bad_resource_dict(make_executor, resource_dict, error) -> None:
    with pytest.raises(error):
        make_executor(max_workers=1, resource_dict=resource_dict)


def test_cores_above_max_cores_raise_at_submit(make_executor) -> None:
    ex = make_executor(max_cores=2)
    with pytest.raises(ValueError, match="cores"):
        ex.submit(xcalls.identity, 1, resource_dict={"cores": 3})
    with pytest.raises(ValueError, match="threads_per_core"):
        ex.submit(xcalls.identity, 1, resource_dict={"threads_per_core": 3})
    assert ex.submit(xcalls.identity, 1).result(timeout=10) == 1


def test_executor_cores_above_max_cores_raise_at_construction(make_executor) -> None:
    with pytest.raises(ValueError, match="cores"):
        make_executor(max_cores=2, resource_dict={"cores": 4})


@pytest.mark.parametrize(
    "resource_dict, key",
    [({"num_nodes": 2}, "num_nodes"), ({"exclusive": True}, "exclusive"), ({"slurm_cmd_args": ["--mem=1G"]}, "slurm_cmd_args")],
)
def test_multi_node_settings_raise_at_submit_naming_the_executors_that_support_them(make_executor, resource_dict, key) -> None:
    ex = make_executor(max_workers=1)
    assert ex.submit(xcalls.identity, 0).result(timeout=10) == 0
    with pytest.raises(ValueError) as info:
        ex.submit(xcalls.identity, 1, resource_dict=resource_dict)
    message = str(info.value)
    assert key in message
    assert "SlurmJobExecutor" in message, f"the message must say which executors support {key}: {message!r}"
    assert ex.submit(xcalls.identity, 1).result(timeout=10) == 1


@pytest.mark.parametrize("resource_dict", [{"num_nodes": 2}, {"exclusive": True}, {"slurm_cmd_args": ["-x"]}])
def test_multi_node_settings_on_the_executor_raise_at_construction(make_executor, resource_dict) -> None:
    with pytest.raises(ValueError, match="SlurmJobExecutor"):
        make_executor(max_workers=1, resource_dict=resource_dict)


def _takes_resource_dict(x, resource_dict=None):
    return x


def _takes_resource_dict_keyword_only(x, *, resource_dict):
    return x


@pytest.mark.parametrize("fn", [_takes_resource_dict, _takes_resource_dict_keyword_only])
def test_function_with_a_resource_dict_parameter_is_rejected(make_executor, fn) -> None:
    ex = make_executor(max_workers=1)
    with pytest.raises(ValueError, match="resource_dict"):
        ex.submit(fn, 1)
    assert ex.submit(xcalls.identity, 1).result(timeout=10) == 1


def test_callers_resource_dicts_are_never_mutated(make_executor, mode, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    executor_level = {"cores": 1, "threads_per_core": 1, "cwd": "work", "slurm_cmd_args": []}
    executor_before = copy.deepcopy(executor_level)
    ex = make_executor(max_workers=2, resource_dict=executor_level)
    per_call = {"priority": 5, "error_log_file": None}
    if mode == "per_call":
        per_call.update({"cores": 1, "cwd": "elsewhere", "threads_per_core": 2})
    per_call_before = copy.deepcopy(per_call)
    assert ex.submit(xcalls.cwd).result(timeout=10) == os.path.join(str(tmp_path), "work")
    assert ex.submit(xcalls.cwd, resource_dict=per_call).result(timeout=10)
    assert list(ex.map(xcalls.identity, [1, 2])) == [1, 2]
    assert executor_level == executor_before
    assert per_call == per_call_before
    assert ex.info["cwd"] == "work" or os.path.basename(ex.info["cwd"]) == "work"
