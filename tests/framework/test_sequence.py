"""Sequence modes, filtered views and the per-algorithm error policy."""
import numpy as np
import pytest

from hepreco.framework import Algorithm, AlgorithmError, Filter, Input, Output, Property, Sequence
from hepreco.framework.event_store import EventStore, make_event_ids
from hepreco.framework.sequence import ChunkRunner


class Parity(Filter):
    """Pass events whose number has the given remainder modulo 'modulus'."""

    modulus = Property(2)
    remainder = Property(0)

    def execute(self, store):
        return store.event_ids["event"] % self.modulus == self.remainder


class Record(Algorithm):
    """Writes the event numbers it saw; remembers them."""

    seen = Output("{name}Seen")

    def execute(self, store):
        self.events = store.event_ids["event"].tolist()
        store.put(self.seen, store.event_ids["event"].copy())


class Faulty(Algorithm):
    src = Input("RecSeen")
    out = Output("FaultyOut")
    bad = Property([], items=int)

    def execute(self, store):
        hit = set(self.bad) & set(store.event_ids["event"].tolist())
        if hit:
            raise RuntimeError(f"bad event {min(hit)}")
        store.put(self.out, store[self.src] * 2)


def run(seq, n=12):
    store = EventStore(make_event_ids(1, np.arange(n)))
    decision, errors = ChunkRunner().run(seq, store)
    return store, decision, errors


def test_and_mode_hides_failing_events_from_later_members():
    rec = Record(name="Rec")
    seq = Sequence("Chain", [Parity(name="Even"), Parity(name="By3", modulus=3), rec], mode="and")
    store, decision, _ = run(Sequence("Top", [seq]))
    assert rec.events == [0, 6]
    assert np.flatnonzero(decision).tolist() == [0, 6]
    assert np.flatnonzero(store["EvenPassed"]).tolist() == [0, 2, 4, 6, 8, 10]
    # By3 only ran on even events: its decision is False elsewhere
    assert np.flatnonzero(store["By3Passed"]).tolist() == [0, 6]
    # the product of a member after the filters is empty (zero) for skipped events
    assert store["RecSeen"].tolist() == [0, 0, 0, 0, 0, 0, 6, 0, 0, 0, 0, 0]


def test_or_mode_short_circuits_accepted_events():
    second = Record(name="Rec")
    seq = Sequence("Any", [Parity(name="Even"), Parity(name="By3", modulus=3), second], mode="or")
    store, _, _ = run(Sequence("Top", [seq]))
    by3 = np.flatnonzero(store["By3Passed"]).tolist()
    assert by3 == [3, 9]  # By3 saw only odd events
    assert second.events == [1, 5, 7, 11]  # neither even nor divisible by 3
    assert store["AnyPassed"].all()  # a non-filter member accepts what it sees


def test_all_mode_runs_everyone_and_ands_decisions():
    rec = Record(name="Rec")
    seq = Sequence("All", [Parity(name="Even"), rec, Parity(name="By3", modulus=3)], mode="all")
    store, decision, _ = run(Sequence("Top", [seq]))
    assert rec.events == list(range(12))
    assert np.flatnonzero(store["AllPassed"]).tolist() == [0, 6]


def test_invert_flips_the_decision():
    seq = Sequence("NotEven", [Parity(name="Even")], mode="and", invert=True)
    store, decision, _ = run(Sequence("Top", [seq]))
    assert np.flatnonzero(decision).tolist() == [1, 3, 5, 7, 9, 11]


def test_members_run_on_empty_views_so_products_exist():
    rec = Record(name="Rec")
    seq = Sequence("Never", [Parity(name="None", modulus=100, remainder=99), rec], mode="and")
    store, decision, _ = run(Sequence("Top", [seq]))
    assert rec.events == [] and "RecSeen" in store and not store["RecSeen"].any()


def test_filter_must_return_bool_per_event():
    class Bad(Filter):
        def execute(self, store):
            return np.ones(3)

    with pytest.raises(AlgorithmError, match=r"Bad failed.*must return a bool array of shape \(12,\)"):
        run(Sequence("Top", [Bad()]))


def test_skip_event_drops_only_the_failing_events():
    faulty = Faulty(bad=[4, 9], on_error="skip_event")
    top = Sequence("Top", [Record(name="Rec"), faulty, Record(name="After")])
    store, decision, errors = run(top)
    assert (~store.alive).nonzero()[0].tolist() == [4, 9]
    assert [r["events"] for r in errors.records] == [[[1, 4], [1, 9]]]
    assert errors.records[0]["algorithm"] == "Faulty" and "bad event 4" in errors.records[0]["message"]
    out = store["FaultyOut"]
    assert out[3] == 6 and out[5] == 10 and out[4] == 0  # intact events keep their values
    assert decision.sum() == 10


def test_skip_chunk_drops_the_chunk():
    top = Sequence("Top", [Record(name="Rec"), Faulty(bad=[4], on_error="skip_chunk")])
    store, decision, errors = run(top)
    assert not store.alive.any() and not decision.any()
    assert errors.records[0]["policy"] == "skip_chunk"


def test_abort_names_algorithm_and_event():
    top = Sequence("Top", [Record(name="Rec"), Faulty(bad=[7])])
    with pytest.raises(AlgorithmError, match=r"Faulty failed on event \(run 1, event 7\): RuntimeError: bad event 7"):
        run(top)
