"""Jagged collections to flat columns plus offsets and back, against plain Python."""
import awkward as ak
import numpy as np
import pytest

from hepreco.algorithms.arrays import flatten_jagged, flatten_values, jagged_offsets, unflatten_jagged


def make_events(seed=3, n_events=40):
    """Plain-Python events: lists of particle dicts, some events empty, jagged constituents."""
    rng = np.random.default_rng(seed)
    events = []
    for _ in range(n_events):
        n = int(rng.integers(0, 6))
        events.append([{"px": float(rng.normal()), "E": float(rng.uniform(1, 9)), "pdg_id": int(rng.integers(-30, 30)),
                        "constituents": [int(c) for c in rng.integers(0, 50, int(rng.integers(0, 4)))]}
                       for _ in range(n)])
    return events


def reference_flatten(events, fields):
    offsets = [0]
    columns = {name: [] for name in fields}
    for event in events:
        offsets.append(offsets[-1] + len(event))
        for particle in event:
            for name in fields:
                columns[name].append(particle[name])
    return columns, offsets


@pytest.mark.parametrize("select", [slice(None), slice(7, 31), slice(31, 7, -2)])
def test_flatten_jagged_matches_a_python_reference(select):
    events = make_events()[select]
    array = ak.Array(make_events())[select]
    columns, offsets = flatten_jagged(array)
    expected, expected_offsets = reference_flatten(events, ("px", "E", "pdg_id", "constituents"))
    assert list(columns) == ["px", "E", "pdg_id", "constituents"]
    assert offsets.dtype == np.int64 and offsets.tolist() == expected_offsets
    for name in ("px", "E", "pdg_id"):
        assert isinstance(columns[name], np.ndarray)
        assert columns[name].tolist() == expected[name]
    assert columns["pdg_id"].dtype == np.int64 and columns["px"].dtype == np.float64
    assert isinstance(columns["constituents"], ak.Array)
    assert columns["constituents"].tolist() == expected["constituents"]


def test_flatten_jagged_takes_the_named_fields_in_order_and_converts_numbers_only():
    array = ak.Array(make_events())
    columns, _ = flatten_jagged(array, ("pdg_id", "px", "constituents"), dtype=np.float64)
    assert list(columns) == ["pdg_id", "px", "constituents"]
    assert columns["pdg_id"].dtype == np.float64 and columns["pdg_id"].flags.c_contiguous
    expected, _ = reference_flatten(make_events(), ("pdg_id",))
    assert columns["pdg_id"].tolist() == [float(v) for v in expected["pdg_id"]]
    assert columns["constituents"].type.content == ak.types.ListType(ak.types.NumpyType("int64"))


def test_flatten_jagged_is_zero_copy_for_a_packed_collection():
    array = ak.Array(make_events())
    px_buffer = ak.to_numpy(array.layout.content["px"])
    columns, _ = flatten_jagged(array, ("px",), dtype=np.float64)
    assert np.shares_memory(columns["px"], px_buffer)


def test_flatten_values_matches_a_python_reference():
    lists = [[3, 1], [], [4, 1, 5], [], [9]]
    values, offsets = flatten_values(ak.Array(lists), dtype=np.int64)
    assert values.tolist() == [3, 1, 4, 1, 5, 9] and values.dtype == np.int64
    assert offsets.tolist() == [0, 2, 2, 5, 5, 6]
    nested, nested_offsets = flatten_values(ak.Array([[[1], [2, 3]], [], [[]]]))
    assert nested.tolist() == [[1], [2, 3], []] and nested_offsets.tolist() == [0, 2, 2, 3]


def test_unflatten_jagged_inverts_both_flattenings():
    array = ak.Array(make_events())
    columns, offsets = flatten_jagged(array)
    assert unflatten_jagged(columns, offsets).tolist() == make_events()
    values, value_offsets = flatten_values(array.pdg_id)
    assert unflatten_jagged(values, value_offsets).tolist() == array.pdg_id.tolist()


def test_no_events_give_one_offset():
    empty = ak.Array(make_events())[:0]
    columns, offsets = flatten_jagged(empty, ("px",))
    assert offsets.tolist() == [0] and columns["px"].shape == (0,)
    assert jagged_offsets(empty).tolist() == [0]
    assert len(unflatten_jagged(columns, offsets)) == 0


def test_a_slice_of_a_packed_collection_is_read_from_its_buffers():
    array = ak.Array(make_events())[7:31]
    px_buffer = ak.to_numpy(array.layout.content.content("px"))
    columns, offsets = flatten_jagged(array, ("px", "constituents"))
    assert np.shares_memory(columns["px"], px_buffer)
    expected, expected_offsets = reference_flatten(make_events()[7:31], ("px", "constituents"))
    assert offsets.tolist() == expected_offsets
    assert columns["px"].tolist() == expected["px"]
    assert columns["constituents"].tolist() == expected["constituents"]
    values, value_offsets = flatten_values(array.pdg_id)
    assert value_offsets.tolist() == expected_offsets
    assert values.tolist() == [p["pdg_id"] for event in make_events()[7:31] for p in event]
    assert jagged_offsets(array).tolist() == expected_offsets


def test_a_missing_field_is_an_error_on_both_paths():
    for array in (ak.Array(make_events()), ak.Array(make_events())[::-1]):
        with pytest.raises(Exception, match="nope"):
            flatten_jagged(array, ("px", "nope"))


def test_unflatten_jagged_builds_columns_of_numbers_as_awkward_would():
    columns = {"pt": np.array([3.0, 1.0, 4.0], np.float32), "n": np.array([1, 5, 9]),
               "ok": np.array([True, False, True])}
    offsets = np.array([0, 2, 2, 3])
    built = unflatten_jagged(columns, offsets)
    reference = ak.unflatten(ak.zip(columns, depth_limit=1), np.diff(offsets))
    assert built.type == reference.type and built.tolist() == reference.tolist()
    values = unflatten_jagged(columns["n"], offsets)
    assert values.type == ak.unflatten(columns["n"], np.diff(offsets)).type and values.tolist() == [[1, 5], [], [9]]
    with pytest.raises(ValueError):  # columns longer than the offsets say: refused, as awkward refuses it
        unflatten_jagged(columns, np.array([0, 1, 2]))
