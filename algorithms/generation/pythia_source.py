"""Pythia 8 event generation (``pythia8mc``) as an event source.

Pythia's random generator is re-seeded for every event from (global seed,
run, event number), so event *n* is the same whichever chunk, worker or
executor generates it.  Initialisation (which draws random numbers too) is
seeded from the global seed alone, identically in every process.
"""
from __future__ import annotations

import os
import sysconfig
from typing import Any

import awkward as ak
import numpy as np

from hepreco.framework import ConfigurationError, EventSource, Output, Property, PropertyError, WorkItem
from hepreco.framework.errors import suggestion
from hepreco.framework.event_store import make_event_ids
from hepreco.framework.io.source import split_range

#: Pythia accepts seeds 1 .. 900,000,000
MAX_SEED = 900_000_000

DIJETS = ["HardQCD:all = on", "PhaseSpace:pTHatMin = 50."]


def pythia_data_dir() -> str | None:
    """The ``xmldoc`` folder of the installed pythia8mc (None when not found)."""
    candidates = [os.path.join(sysconfig.get_paths()["data"], "share", "Pythia8", "xmldoc")]
    try:
        import importlib.util

        spec = importlib.util.find_spec("pythia8mc")
        if spec and spec.origin:
            site = os.path.dirname(spec.origin)
            candidates.append(os.path.join(site, "..", "..", "..", "share", "Pythia8", "xmldoc"))
            candidates.append(os.path.join(site, "share", "Pythia8", "xmldoc"))
    except ImportError:
        pass
    for path in candidates:
        if os.path.exists(os.path.join(path, "Index.xml")):
            return os.path.abspath(path)
    return None


def import_pythia():
    """Import pythia8mc with ``PYTHIA8DATA`` set (when unset) to its xmldoc folder."""
    if not os.environ.get("PYTHIA8DATA"):
        found = pythia_data_dir()
        if found:
            os.environ["PYTHIA8DATA"] = found
    try:
        import pythia8mc
    except ImportError:
        raise ConfigurationError("PythiaSource needs pythia8mc: pip install pythia8mc==8.317.2") from None
    return pythia8mc


_SETTING_KINDS = ("Flag", "Mode", "Parm", "Word", "FVec", "MVec", "PVec", "WVec")


def unknown_setting(py, cmd: str) -> str:
    """Why ``py.readString(cmd)`` refused ``cmd``: an unknown name (with the nearest ones) or a bad value."""
    key = (cmd.split("=", 1)[0] if "=" in cmd else cmd).strip()
    if any(getattr(py.settings, f"is{kind}")(key) for kind in _SETTING_KINDS):
        return f"Pythia rejects the value in {cmd!r} (not meaningful or out of range for {key!r})"
    if ":" not in key or key.split(":", 1)[0].lstrip("-").isdigit():
        return f"Pythia does not understand {cmd!r} (expected 'Name = value', e.g. 'HardQCD:all = on')"
    names = [entry.name for kind in _SETTING_KINDS for entry in getattr(py.settings, f"get{kind}Map")("").values()]
    return f"Pythia does not know the setting {key!r} (in {cmd!r}); {suggestion(key, names)}"


PARTICLE_FIELDS = (("pdg_id", np.int32), ("charge", np.float32), ("px", np.float64), ("py", np.float64),
                   ("pz", np.float64), ("E", np.float64), ("status", np.int32))


HARD_FIELDS = (("pdg_id", np.int32), ("px", np.float64), ("py", np.float64), ("pz", np.float64),
               ("E", np.float64), ("parent", np.int32))

#: |pdg_id| of the decaying particles kept in ``TruthHardProcess``: top, Z, W
HARD_IDS = (6, 23, 24)


def hard_process(event) -> list[tuple]:
    """The W, Z and top quarks of the hard process and their decay products, from a Pythia event record.

    Starting from the resonances of the hardest subprocess (status -22, -23),
    each resonance is followed to its last copy (``iBotCopyId``, after
    recoils and radiation); a W, Z or top is kept as one row (pdg_id, px, py,
    pz, E [GeV], parent) and its daughters (first copies, before their own
    showering) are kept with ``parent`` = the row of that W, Z or top.
    Daughters that are resonances themselves (the W of a top, the W and Z of a
    W') are followed in the same way; ``parent`` is -1 for a W, Z or top not
    from another kept one.  A few dozen calls per event: generation cost is
    unchanged.
    """
    rows: list[tuple] = []

    def visit(i: int, parent: int) -> None:
        last = event[event[i].iBotCopyId()]
        keep = last.idAbs() in HARD_IDS
        me = parent
        if keep:
            me = len(rows)
            rows.append((last.id(), last.px(), last.py(), last.pz(), last.e(), parent))
        for d in last.daughterList():
            daughter = event[d]
            if daughter.isResonance() and daughter.id() != last.id():
                visit(d, me)
            elif keep:
                rows.append((daughter.id(), daughter.px(), daughter.py(), daughter.pz(), daughter.e(), me))

    for i in range(3, event.size()):
        status = event[i].status()
        if status not in (-21, -22, -23):
            break  # past the hardest subprocess
        if status != -21 and event[i].isResonance():
            visit(i, -1)
    return rows


PARTON_FIELDS = (("pdg_id", np.int32), ("px", np.float64), ("py", np.float64), ("pz", np.float64),
                 ("E", np.float64))


def hard_partons(event) -> list[tuple]:
    """The outgoing quarks and gluons of the hardest subprocess (pdg_id, px, py, pz, E [GeV]).

    Rows of status -23 whose mother is an incoming parton of that subprocess
    (status -21): the two partons of a 2 -> 2 QCD scattering, for the quark or
    gluon label of a QCD jet; the decay products of resonances are not among them.
    """
    rows = []
    for i in range(3, event.size()):
        p = event[i]
        if p.status() not in (-21, -22, -23):
            break
        if p.status() == -23 and (p.idAbs() <= 5 or p.idAbs() == 21) and event[p.mother1()].status() == -21:
            rows.append((p.id(), p.px(), p.py(), p.pz(), p.e()))
    return rows


class PythiaSource(EventSource):
    """Generates events with Pythia 8 and puts truth particles and event weights.

    ``TruthParticles`` are jagged records per event with fields pdg_id,
    charge, px, py, pz, E (GeV) and status; final-state particles only unless
    ``final_state`` is False.  ``TruthHardProcess`` holds, per event, the W, Z
    and top quarks of the hard process (last copies) and their decay products
    with the index of their parent in the same list (-1: none), for labelling
    jets (see :func:`hard_process`); it is empty when ``hard_process`` is False
    and in events without such resonances (QCD).  ``TruthPartons`` holds the
    outgoing quarks and gluons of the hardest subprocess (see
    :func:`hard_partons`), for the quark or gluon label of QCD jets.
    """

    settings = Property(list(DIJETS), doc="Pythia command strings (process, cuts, tunes)", items=str)
    beam_energy = Property(6800.0, doc="energy of each proton beam (eCM = 2 x beam_energy)", unit="GeV", gt=0)
    final_state = Property(True, doc="keep final-state particles only (False: the whole event record)")
    max_attempts = Property(10, doc="attempts per event when Pythia fails to generate one", ge=1)
    particles = Output("TruthParticles", doc="truth particles: pdg_id, charge, px, py, pz, E [GeV], status")
    weights = Output("EventWeights", doc="event weight (float64 per event)")
    hard = Output("TruthHardProcess", doc="W, Z, top (last copies) and their decay products: pdg_id, px, py, pz, "
                  "E [GeV], parent (row of the decaying W/Z/top, -1: none)")
    partons = Output("TruthPartons", doc="outgoing quarks and gluons of the hardest subprocess (not from resonance "
                     "decays): pdg_id, px, py, pz, E [GeV]")
    hard_process = Property(True, doc="fill TruthHardProcess and TruthPartons (False: empty lists)")
    pthat = Output("TruthPtHat", doc="Pythia's pT-hat per event (float64) [GeV]: of the hard process, or of the "
                   "hardest multiparton interaction for soft QCD (the variable of pT-hat slices in trigger rates)")

    generator = True
    _pythia = None

    def preflight(self) -> None:
        """Ask Pythia whether it understands every setting (as :meth:`initialize` will), without initialising."""
        py = import_pythia().Pythia("", False)
        for cmd in self.settings:
            if not py.readString(cmd, False):
                raise PropertyError(self.name, "settings", unknown_setting(py, cmd))

    def initialize(self) -> None:
        pythia8mc = import_pythia()
        py = pythia8mc.Pythia("", False)
        init_seed = int(self.services.random.seeds(make_event_ids(0, np.array([0])), f"{self.name}.init")[0]
                        % MAX_SEED) + 1
        commands = [f"Beams:eCM = {2 * self.beam_energy}", "Random:setSeed = on", f"Random:seed = {init_seed}",
                    "Print:quiet = on", "Next:numberCount = 0", *self.settings]
        for cmd in commands:
            if not py.readString(cmd):
                raise PropertyError(self.name, "settings", unknown_setting(py, cmd))
        if not py.init():
            raise ConfigurationError(f"{self.name}: Pythia initialisation failed with settings {self.settings}")
        self._pythia = py

    def work_items(self, evt_max: int, chunk_size: int, run: int) -> list[WorkItem]:
        if evt_max < 0:
            raise ConfigurationError(f"{self.name} generates events: set job.evt_max (or --evt-max N)")
        return split_range(self.name, None, evt_max, chunk_size, run)

    def read(self, item: WorkItem) -> tuple[np.ndarray, dict[str, Any]]:
        py = self._pythia
        ids = make_event_ids(item.run, np.arange(item.first, item.last))
        seeds = self.services.random.seeds(ids, self.name)
        counts = np.zeros(len(ids), dtype=np.int64)
        weights = np.zeros(len(ids), dtype=np.float64)
        pthat = np.zeros(len(ids), dtype=np.float64)
        rows: list[list] = []
        hard_counts = np.zeros(len(ids), dtype=np.int64)
        hard_rows: list[tuple] = []
        parton_counts = np.zeros(len(ids), dtype=np.int64)
        parton_rows: list[tuple] = []
        for i, seed in enumerate(seeds):
            for attempt in range(self.max_attempts):
                py.rndm.init(int((int(seed) + attempt * 7919) % MAX_SEED) + 1)
                if py.next():
                    break
            else:
                raise RuntimeError(f"Pythia failed to generate event {item.run}:{item.first + i} "
                                   f"in {self.max_attempts} attempts")
            keep_all = not self.final_state
            event = [(p.id(), p.charge(), p.px(), p.py(), p.pz(), p.e(), p.status())
                     for p in py.event if keep_all or p.isFinal()]
            if keep_all:
                event = event[1:]  # entry 0 is the system as a whole
            counts[i] = len(event)
            rows.extend(event)
            info = py.infoPython()
            weights[i] = info.weight()
            pthat[i] = info.pTHat()
            if self.hard_process:
                hard = hard_process(py.event)
                hard_counts[i] = len(hard)
                hard_rows.extend(hard)
                partons = hard_partons(py.event)
                parton_counts[i] = len(partons)
                parton_rows.extend(partons)
        return ids, {self.particles: _records(rows, PARTICLE_FIELDS, counts), self.weights: weights,
                     self.hard: _records(hard_rows, HARD_FIELDS, hard_counts),
                     self.partons: _records(parton_rows, PARTON_FIELDS, parton_counts), self.pthat: pthat}


def _records(rows: list, fields, counts: np.ndarray) -> ak.Array:
    """Jagged records (``counts`` per event) from rows of numbers in the order of ``fields``."""
    table = np.array(rows, dtype=np.float64).reshape(-1, len(fields))
    columns = {name: table[:, k].astype(dtype) for k, (name, dtype) in enumerate(fields)}
    return ak.unflatten(ak.zip(columns), counts)


class _StandaloneServices:
    """The one service a source needs outside a job: per-event seeds."""

    def __init__(self, seed: int):
        from hepreco.framework.services.random import RandomSvc

        self.random = RandomSvc(seed=seed)


def generate(n_events: int, settings: list[str] | None = None, seed: int = 1, run: int = 1) -> tuple[np.ndarray, ak.Array]:
    """``(event_ids, TruthParticles)`` of ``n_events`` Pythia events outside a job (tests, benchmarks).

    The same events a job with this seed and run would generate.
    """
    ids, data = generate_collections(n_events, settings, seed, run)
    return ids, data["TruthParticles"]


def generate_collections(n_events: int, settings: list[str] | None = None, seed: int = 1,
                         run: int = 1) -> tuple[np.ndarray, dict[str, Any]]:
    """``(event_ids, {key: collection})``: everything :func:`generate`'s source puts (TruthHardProcess too)."""
    source = PythiaSource(settings=list(settings) if settings is not None else list(DIJETS))
    source.services = _StandaloneServices(seed)
    source.initialize()
    return source.read(source.work_items(n_events, max(n_events, 1), run)[0])


def visible_momenta(particles: ak.Array) -> list[np.ndarray]:
    """Per event, an ``(n, 4)`` array of px, py, pz, E (GeV) of the particles that are not neutrinos."""
    apdg = abs(particles.pdg_id)
    visible = particles[(apdg != 12) & (apdg != 14) & (apdg != 16)]
    flat = np.column_stack([ak.to_numpy(ak.flatten(visible[f])) for f in ("px", "py", "pz", "E")])
    return np.split(flat, np.cumsum(ak.to_numpy(ak.num(visible, axis=1)))[:-1])
