"""Random streams, messages, histograms and timing services."""
import logging
import os

import hist
import numpy as np
import pytest

from hepreco.framework.event_store import make_event_ids
from hepreco.framework.services.histograms import HistogramSvc
from hepreco.framework.services.messages import MessageSvc
from hepreco.framework.services.random import RandomSvc, event_seeds
from hepreco.framework.services.timing import TimingSvc


def test_seeds_depend_on_seed_run_event_and_component_only():
    ids = make_event_ids(2, np.arange(100))
    svc = RandomSvc(seed=1)
    a = svc.seeds(ids, "Sim")
    assert len(set(a.tolist())) == 100
    assert (svc.seeds(ids[40:60], "Sim") == a[40:60]).all()  # any chunking
    assert not np.isin(svc.seeds(ids, "Digi"), a).any()  # other component, other stream
    assert (RandomSvc(seed=2).seeds(ids, "Sim") != a).all()
    assert (event_seeds(1, np.full(100, 3), np.arange(100), "Sim") != a).all()  # other run
    g1, g2 = svc.generator(2, 7, "Sim"), svc.generators(ids, "Sim")[7]
    assert g1.normal() == g2.normal()


def test_seed_bits_look_uniform():
    bits = RandomSvc(seed=0).seeds(make_event_ids(1, np.arange(20000)), "X")
    ones = np.unpackbits(bits.view(np.uint8)).mean()
    assert abs(ones - 0.5) < 0.005


def test_message_levels_per_component_and_counters():
    svc = MessageSvc(level="WARNING", levels={"Chatty": "DEBUG"})
    svc.initialize()
    try:
        chatty, quiet = logging.getLogger("hepreco.Chatty"), logging.getLogger("hepreco.Quiet")
        assert chatty.isEnabledFor(logging.DEBUG) and not quiet.isEnabledFor(logging.INFO)
        quiet.warning("w1")
        quiet.warning("w2")
        chatty.error("e1")
        assert svc.harvest() == {"Quiet": {"WARNING": 2}, "Chatty": {"ERROR": 1}}
        assert svc.harvest() == {}
        assert MessageSvc.merge([{"A": {"WARNING": 1}}, {"A": {"WARNING": 2, "ERROR": 1}}]) == \
            {"A": {"WARNING": 3, "ERROR": 1}}
    finally:
        svc.finalize()
        logging.getLogger("hepreco.Chatty").setLevel(logging.NOTSET)


def test_histogram_pngs_are_titled_with_the_algorithm_that_booked_them(tmp_path, monkeypatch):
    import matplotlib
    from matplotlib.axes import Axes

    from hepreco.framework.services.histograms import draw_task

    matplotlib.use("Agg", force=False)
    titles = []
    original = Axes.set_title
    monkeypatch.setattr(Axes, "set_title", lambda self, text, *a, **k: titles.append(text) or original(self, text, *a, **k))
    svc = HistogramSvc()
    svc.book("AntiKt10Histograms", "m", hist.axis.Regular(4, 0, 4, label="m [GeV]")).fill([1.0])
    (task,) = svc.drawing_tasks(svc.harvest(), str(tmp_path))
    assert draw_task(task) and os.path.getsize(task[1]) > 0
    assert titles == ["AntiKt10Histograms: m"]


def test_histograms_harvest_reset_merge_and_write(tmp_path):
    svc = HistogramSvc()
    h = svc.book("Alg", "x", hist.axis.Regular(4, 0, 4, label="x [GeV]"))
    with pytest.raises(ValueError, match="booked twice"):
        svc.book("Alg", "x", hist.axis.Regular(4, 0, 4))
    h.fill([0.5, 1.5, 1.5])
    first = svc.harvest()
    assert h.sum() == 0 and first["Alg/x"].values().tolist() == [1, 2, 0, 0]
    h.fill([3.5])
    merged = HistogramSvc.merge([first, svc.harvest()])
    assert merged["Alg/x"].values().tolist() == [1, 2, 0, 1]
    written = svc.write(merged, str(tmp_path))
    assert sorted(p.rsplit("/", 1)[-1] for p in written) == ["Alg_x.png", "histograms.root"]
    import uproot

    with uproot.open(tmp_path / "histograms.root") as f:
        assert f["Alg/x"].values().tolist() == [1, 2, 0, 1]


def test_histogram_snapshot_restore():
    svc = HistogramSvc()
    h = svc.book("Alg", "x", hist.axis.Regular(2, 0, 2))
    h.fill([0.5])
    snap = svc.snapshot("Alg")
    h.fill([0.5, 1.5])
    svc.restore("Alg", snap)
    assert h.values().tolist() == [1, 0]
    assert svc.snapshot("Other") is None


def test_timing_merge_gives_per_event_cost():
    t = TimingSvc()
    t.add("A", 0.5, 100)
    t.add("A", 0.5, 100)
    merged = TimingSvc.merge([t.harvest(), {"A": [1.0, 200, 1]}])
    assert merged["A"] == {"seconds": 2.0, "events": 400, "calls": 3, "us_per_event": 5000.0}
