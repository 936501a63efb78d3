"""The cache key equals executorlib's for the same call (checked against executorlib's own function)."""

from __future__ import annotations

import functools
import math
import os

import pytest
from cache_helpers import HAS_EXECUTORLIB, add
from hypothesis import given, settings
from hypothesis import strategies as st

from executor.cache.key import call_blob, function_name, hash_blob, key_from_blob, task_key

pytestmark = pytest.mark.skipif(not HAS_EXECUTORLIB, reason="executorlib is needed to compare keys")


def executorlib_key(fn, args, kwargs, cache_key=None):
    from executorlib.standalone.serialize import serialize_funct

    key, _data, error = serialize_funct(fn=fn, fn_args=args, fn_kwargs=kwargs, cache_key=cache_key)
    assert error is None
    return key


class Scale:
    def __call__(self, x):
        return 2 * x


def local_function(x, y=1):
    return x * y


CALLABLES = [add, local_function, math.sqrt, functools.partial(add, y=3), Scale(), lambda x: x, os.path.join]


@pytest.mark.parametrize("fn", CALLABLES, ids=lambda f: function_name(f))
@pytest.mark.parametrize("args", [(), (1,), [1], (1, "a", [2.5, None]), [{"k": (1, 2)}]])
def test_key_equals_executorlib(fn, args):
    kwargs = {"y": 2} if args else {}
    assert task_key(fn, args, kwargs) == executorlib_key(fn, args, kwargs)


def test_tuple_and_list_args_give_different_keys_as_in_executorlib():
    # SingleNode-type executors hash the args tuple, Cluster executors a list: keys differ in both libraries.
    assert task_key(add, (1,), {}) != task_key(add, [1], {})
    assert executorlib_key(add, (1,), {}) != executorlib_key(add, [1], {})


def test_function_names():
    assert task_key(add, (1,), {}).startswith("add")
    assert function_name(Scale()) == "Scale"
    assert function_name(functools.partial(add)) == "partial"
    assert function_name(lambda: 0) == "<lambda>"


def test_cache_key_wins_and_may_contain_slashes():
    assert task_key(add, (1,), {}, cache_key="a/b/c") == "a/b/c"
    assert executorlib_key(add, (1,), {}, cache_key="a/b/c") == "a/b/c"


def test_blob_variant_gives_the_same_key():
    blob = call_blob(add, (1, 2), {"y": 3})
    assert key_from_blob(add, blob) == task_key(add, (1, 2), {"y": 3})


def test_jupyter_kernel_paths_are_normalised_like_executorlib():
    from executorlib.standalone.serialize import _get_hash

    a = b"xx/tmp/ipykernel_12345/1234.py\x00more"
    b = b"xx/tmp/ipykernel_99/1234.py\x00more"
    assert hash_blob(a) == hash_blob(b) == _get_hash(a) == _get_hash(b)


json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20) | st.binary(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.tuples(children, children)
    | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(args=st.lists(json_like, max_size=4), kwargs=st.dictionaries(st.text(min_size=1, max_size=8), json_like, max_size=3))
def test_key_equals_executorlib_for_arbitrary_arguments(args, kwargs):
    assert task_key(add, tuple(args), kwargs) == executorlib_key(add, tuple(args), kwargs)
    assert task_key(add, args, kwargs) == executorlib_key(add, args, kwargs)


@given(blob=st.binary(max_size=200), prefix=st.binary(max_size=20), kernel=st.binary(max_size=30))
def test_hash_blob_equals_executorlib_hash(blob, prefix, kernel):
    from executorlib.standalone.serialize import _get_hash

    data = prefix + b"/ipykernel_" + kernel + b"/" + blob
    assert hash_blob(data) == _get_hash(data)
    assert hash_blob(blob) == _get_hash(blob)
