import json

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from convrnn.training.state_tree import flatten, unflatten


def assert_same(a, b):
    assert type(a) is type(b)
    if isinstance(a, torch.Tensor):
        assert a.dtype == b.dtype and torch.equal(a, b)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for key in a:
            assert type(key) is type(next(k for k in b if k == key))
            assert_same(a[key], b[key])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert_same(x, y)
    else:
        assert a == b or (a != a and b != b)  # NaN equals NaN here


def round_trip(tree):
    json_tree, tensors = flatten(tree)
    return unflatten(json.loads(json.dumps(json_tree)), tensors)


def test_optimizer_state_dict_round_trips_exactly():
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1, betas=(0.8, 0.95))
    model(torch.randn(5, 3)).sum().backward()
    optimizer.step()
    state = optimizer.state_dict()
    rebuilt = round_trip(state)
    assert_same(state, rebuilt)
    assert isinstance(rebuilt["param_groups"][0]["betas"], tuple)
    assert set(rebuilt["state"]) == {0, 1, 2, 3}


def test_tags_inside_user_dicts_do_not_collide():
    tree = {"__tensor__": "not a reference", "__tuple__": [1, 2], 3: "int key", 2.5: None}
    assert_same(tree, round_trip(tree))


def test_dotted_keys_that_collide_keep_separate_tensors():
    tree = {"a.b": torch.tensor([1.0]), "a": {"b": torch.tensor([2.0])}}
    json_tree, tensors = flatten(tree)
    assert len(tensors) == 2
    assert_same(tree, unflatten(json_tree, tensors))


def test_unstorable_leaf_is_refused_by_path():
    with pytest.raises(TypeError, match=r"'state\.schedule\.1'.*function"):
        flatten({"schedule": [1, lambda step: step]})


def test_missing_tensor_is_reported_by_name():
    json_tree, _ = flatten({"w": torch.zeros(2)})
    with pytest.raises(KeyError, match=r"state\.w"):
        unflatten(json_tree, {})


scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**60, 2**60),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=5))
leaves = st.one_of(scalars, st.builds(lambda n: torch.arange(n, dtype=torch.float64),
                                      st.integers(0, 4)))
trees = st.recursive(
    leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.lists(children, max_size=3).map(tuple),
        st.dictionaries(st.one_of(st.text(max_size=4), st.integers(-5, 5)), children, max_size=3),
    ),
    max_leaves=12,
)


@given(trees)
def test_any_nested_state_round_trips(tree):
    assert_same(tree, round_trip(tree))
