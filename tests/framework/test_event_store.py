"""The write-once event store, provenance, masked views."""
import awkward as ak
import numpy as np
import pytest

from hepreco.framework import Algorithm, DuplicateProduct, MissingProduct, Output
from hepreco.framework.errors import UndeclaredOutput
from hepreco.framework.event_store import EventStore, make_event_ids


class Maker(Algorithm):
    out = Output("Jets")


def store5():
    s = EventStore(make_event_ids(3, np.arange(10, 15)))
    s.put("Particles", ak.Array([[1.0, 2.0], [3.0], [], [4.0, 5.0, 6.0], [7.0]]), "Source", "abc")
    s.put("Dense", np.arange(10.0).reshape(5, 2), "Source")
    return s


def test_event_ids_and_provenance():
    s = store5()
    assert s.event_ids["run"].tolist() == [3] * 5 and s.event_ids["event"].tolist() == [10, 11, 12, 13, 14]
    assert s.provenance("Particles").producer == "Source" and s.provenance("Particles").config_hash == "abc"


def test_second_put_names_both_producers():
    s = store5()
    with pytest.raises(DuplicateProduct, match="'Particles' was already put by 'Source'; 'Other' may not"):
        s.put("Particles", ak.Array([[]] * 5), "Other")


def test_missing_key_lists_nearest_keys():
    s = store5()
    with pytest.raises(MissingProduct, match=r"no product 'Particle'.*did you mean 'Particles'"):
        s["Particle"]
    with pytest.raises(KeyError):  # callers can catch the builtin
        s["Nothing"]


def test_products_must_be_event_aligned():
    s = store5()
    with pytest.raises(ValueError, match="4 entries; the chunk has 5 events"):
        s.put("X", np.zeros(4), "A")
    with pytest.raises(TypeError, match="numpy array or an awkward Array"):
        s.put("Y", [1, 2, 3, 4, 5], "A")


def test_view_slices_reads_and_fills_skipped_events_on_write():
    s = store5()
    alg = Maker(name="JetMaker")
    v = s.view(np.array([1, 3]), alg)
    assert v["Particles"].tolist() == [[3.0], [4.0, 5.0, 6.0]]
    assert v.event_ids["event"].tolist() == [11, 13]
    v.put("Jets", ak.Array([[{"pt": 1.0}], [{"pt": 2.0}, {"pt": 3.0}]]))
    jets = s["Jets"]
    assert ak.num(jets, axis=1).tolist() == [0, 1, 0, 2, 0]
    assert s.provenance("Jets").producer == "JetMaker"
    assert s.provenance("Jets").config_hash == alg.config_hash()


def test_dense_products_of_skipped_events_are_zero():
    s = store5()
    v = s.view(np.array([0, 4]), Maker())
    v.put("Jets", np.array([[1.0, 1.0], [2.0, 2.0]]))
    assert s["Jets"].tolist() == [[1, 1], [0, 0], [0, 0], [0, 0], [2, 2]]


def test_undeclared_output_is_refused():
    v = store5().view(None, Maker(name="M"))
    with pytest.raises(UndeclaredOutput, match="M put 'Jet', which is not one of its declared outputs; "
                                               "did you mean 'Jets'"):
        v.put("Jet", np.zeros(5))


def test_nested_views_compose():
    s = store5()
    v = s.view(np.array([0, 2, 3, 4]))
    w = v.view(np.array([1, 2]))
    assert w.event_ids["event"].tolist() == [12, 13]
    assert w["Dense"].tolist() == [[4.0, 5.0], [6.0, 7.0]]


def test_discard_rolls_back_a_producer():
    s = store5()
    s.put("A", np.zeros(5), "Alg")
    assert s.discard("Alg") == ["A"] and "A" not in s
