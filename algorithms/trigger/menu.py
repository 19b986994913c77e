"""The trigger menu: L1 items, isolation working points, prescale sets and streams, read from YAML.

A menu file (``jobs/menus/l1_default.yaml`` is the shipped one)::

    name: L1_default_v1
    streams: [physics, express]          # streams that items and HLT chains write to
    isolation:                           # working points: cuts as fractions of the object's E_T
      VHI: {em_isol: 0.10, had_core: 0.05, offset: 1.0, et_max: 50.0}
    items:
      L1_EM22VHI: {type: EM, threshold: 22.0, isolation: VHI, eta: [0.0, 2.5], streams: [physics, express]}
      L1_2EM15:   {type: EM, threshold: 15.0, multiplicity: 2}
      L1_XE50:    {type: XE, threshold: 50.0}
    chains:                              # HLT chains: L1 seeds, prescale, streams
      HLT_xe110: {seed: L1_XE50, prescale: 1, streams: [physics]}
    default_prescale_set: Physics
    prescale_sets:                       # columns; an item a set does not list keeps its 'prescale' (default 1)
      Physics: {L1_2EM15: 1}
      Loose: {L1_2EM15: 10.5, L1_XE50: -1}

Items
-----
``type``: ``EM`` (EM cluster E_T of :data:`L1EmTau`), ``TAU`` (tau cluster
E_T), ``JET`` (L1 jet E_T), ``XE`` (missing E_T), ``TE`` (total E_T), ``HT``.
An object passes when its E_T is *above* ``threshold`` (GeV, ``E_T >
threshold``), its ``|eta|`` is in ``eta: [min, max)`` (default ``[0, 5)``) and
it passes the ``isolation`` working point (EM and TAU only); the item passes
when at least ``multiplicity`` objects pass (default 1).  ``XE``, ``TE``,
``HT`` compare the event's sum with the threshold.  ``NN`` passes when the
per-event score of a Level-1 network (``L1NNScores``, the output of an
``L1NeuralNetwork`` on per-event inputs such as ``L1NNEventInputs``) is above
``threshold`` (in the score's own units, not GeV); ``score`` names the
field of the network's output (default ``score``).

Isolation working point: an object with E_T below ``et_max`` (GeV, default
no limit) must have ``em_isol <= em_isol x E_T + offset``, ``had_core <=
had_core x E_T + offset`` and ``had_isol <= had_isol x E_T + offset`` for
each of the three fractions the working point gives (``offset`` in GeV,
default 0); at and above ``et_max`` it is not applied.

HLT chains
----------
``chains: {HLT_j400: {seed: L1_J100, prescale: 1, streams: [physics]}}``:
each chain names its L1 seed item(s) (``seed``: one or a list; the chain is
seeded when any of them accepted the event after the L1 prescale), its
prescale (same rule as the items, applied to the events that passed the
chain) and its streams.  The chain's steps are a filtered sequence of the
job with the chain's name (:mod:`.hlt`); prescale sets may list chains.
Chain names start with ``HLT_``.

Prescales
---------
A prescale ``PS >= 1`` (fractional values allowed) keeps an event that
passed the item when ``u < 1 / PS``, with ``u`` uniform in (0, 1) from the
event's counter-based stream for that item (:func:`prescale_uniform`): the
expected fraction kept is exactly ``1 / PS``, and the decision of an event
depends only on (job seed, run, event, menu name, item name), never on
chunks, workers or the executor.  ``PS = 1`` keeps every event.  ``PS <= 0``
(conventionally -1) disables the item: it is still evaluated and counted
before prescale, but never accepts.  ``0 < PS < 1`` is an error.

Errors in the file are :class:`~hepreco.framework.errors.ConfigurationError`
naming the file and line, with the nearest valid names.
"""
from __future__ import annotations

import hashlib
import math
import os
import re
from dataclasses import dataclass, field

import numpy as np

from hepreco.framework.config import read_yaml
from hepreco.framework.errors import ConfigurationError, Location, UnknownNameError
from hepreco.framework.services.random import name_key, splitmix64

#: object or sum each item type selects on, and the field holding its E_T [GeV]
ITEM_TYPES = {"EM": ("L1EmTau", "em_et"), "TAU": ("L1EmTau", "tau_et"), "JET": ("L1Jets", "et"),
              "XE": ("L1EnergySums", "met"), "TE": ("L1EnergySums", "sum_et"), "HT": ("L1EnergySums", "ht"),
              "NN": ("L1NNScores", "score")}
#: item types that count objects (the others compare one per-event sum)
OBJECT_TYPES = ("EM", "TAU", "JET")
TOP_KEYS = ("name", "description", "streams", "isolation", "items", "chains", "default_prescale_set", "prescale_sets")
ITEM_KEYS = ("type", "threshold", "multiplicity", "eta", "isolation", "prescale", "streams", "description", "score")
ISOLATION_KEYS = ("em_isol", "had_core", "had_isol", "offset", "et_max")
CHAIN_KEYS = ("seed", "prescale", "streams", "description")
_NAME = re.compile(r"^L1_[A-Za-z0-9_]+$")
_CHAIN = re.compile(r"^HLT_[A-Za-z0-9_]+$")


@dataclass(frozen=True)
class Isolation:
    """An isolation working point (fractions of the object's E_T; offset and et_max in GeV)."""

    name: str
    em_isol: float | None = None
    had_core: float | None = None
    had_isol: float | None = None
    offset: float = 0.0
    et_max: float = math.inf


@dataclass(frozen=True)
class Item:
    """One L1 item."""

    name: str
    type: str
    threshold: float
    multiplicity: int = 1
    eta: tuple[float, float] = (0.0, 5.0)
    isolation: Isolation | None = None
    prescale: float = 1.0
    streams: tuple[str, ...] = ("physics",)
    #: the score field an ``NN`` item reads
    score: str = ""

    @property
    def enabled(self) -> bool:
        return self.prescale > 0


@dataclass(frozen=True)
class Chain:
    """One HLT chain: seeded by L1 items, run as the job's filtered sequence of the same name."""

    name: str
    seeds: tuple[str, ...]
    prescale: float = 1.0
    streams: tuple[str, ...] = ("physics",)

    @property
    def enabled(self) -> bool:
        return self.prescale > 0


@dataclass
class Menu:
    """A validated menu with one prescale set applied to its items."""

    name: str
    path: str
    streams: tuple[str, ...]
    items: list[Item]
    prescale_set: str
    prescale_sets: dict[str, dict[str, float]] = field(default_factory=dict)
    sha256: str = ""
    chains: list[Chain] = field(default_factory=list)

    @property
    def item_names(self) -> list[str]:
        return [item.name for item in self.items]

    @property
    def chain_names(self) -> list[str]:
        return [chain.name for chain in self.chains]

    def prescales(self) -> dict[str, float]:
        return {item.name: item.prescale for item in self.items}


# -- prescales ----------------------------------------------------------------------------------
def prescale_uniform(event_seeds: np.ndarray, item: str) -> np.ndarray:
    """Uniform numbers in (0, 1), one per event, for the prescale of ``item``.

    ``event_seeds`` are the per-event seeds of the menu component
    (:meth:`Algorithm.seeds`: from job seed, run, event, component name);
    each is mixed with a stable key of the item name by splitmix64, and the
    top 53 bits give ``u = (bits + 0.5) / 2**53``.
    """
    bits = splitmix64(np.asarray(event_seeds, dtype=np.uint64) ^ name_key(item)) >> np.uint64(11)
    return (bits.astype(np.float64) + 0.5) * (1.0 / 9007199254740992.0)


def prescale_accept(passed: np.ndarray, event_seeds: np.ndarray, item: str, prescale: float) -> np.ndarray:
    """The events of ``passed`` kept by a prescale (module docstring: ``u < 1 / PS``; ``PS <= 0`` keeps none)."""
    passed = np.asarray(passed, dtype=bool)
    if prescale <= 0:
        return np.zeros_like(passed)
    if prescale == 1:
        return passed.copy()
    return passed & (prescale_uniform(event_seeds, item) < 1.0 / prescale)


# -- reading ---------------------------------------------------------------------------------------
def _where(node, key, path) -> Location:
    lines = getattr(node, "lines", None)
    if isinstance(lines, dict) and key in lines:
        return Location(path, lines[key])
    return Location(path, getattr(node, "line", None) or None)


def _number(value, what, where, *, ge=None, integer=False):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigurationError(f"{what}: expected a number, got {value!r}", where)
    if integer and int(value) != value:
        raise ConfigurationError(f"{what}: expected an integer, got {value!r}", where)
    if ge is not None and value < ge:
        raise ConfigurationError(f"{what} must be >= {ge}, got {value!r}", where)
    return int(value) if integer else float(value)


def _mapping(value, what, where):
    if not isinstance(value, dict):
        raise ConfigurationError(f"{what} must be a mapping, got {value!r}", where)
    return value


def _check_keys(node, allowed, what, path):
    for key in node:
        if key not in allowed:
            raise UnknownNameError(f"key of {what}", str(key), allowed, _where(node, key, path))


def _prescale(value, what, where) -> float:
    ps = _number(value, what, where)
    if 0 < ps < 1:
        raise ConfigurationError(f"{what} = {value}: a prescale is >= 1 (keep 1/PS of the events) or <= 0 "
                                 f"(-1: disabled)", where)
    return ps


def _streams(value, known, what, where) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        raise ConfigurationError(f"{what} must be a list of stream names, got {value!r}", where)
    for s in value:
        if s not in known:
            raise UnknownNameError("stream", s, known, where, context=what)
    return tuple(value)


def resolve_menu_path(text: str) -> str:
    """The file a menu property names: a path, ``package:path``, or a menu shipped in ``hepreco:jobs/menus``."""
    from hepreco.framework.composition import package_file

    if os.path.isfile(text):
        return text
    found = package_file(text)
    if found:
        return found
    shipped = package_file(f"hepreco:jobs/menus/{text}" + ("" if text.endswith(".yaml") else ".yaml"))
    if shipped and os.sep not in text and "/" not in text:
        return shipped
    default = package_file("hepreco:jobs/menus/l1_default.yaml")
    menus = os.path.dirname(default) if default else ""
    names = sorted(f[:-5] for f in os.listdir(menus) if f.endswith(".yaml")) if menus else []
    raise ConfigurationError(f"trigger menu {text!r} not found: give a path, 'package:path' or a shipped menu "
                             f"({', '.join(names) or 'none'})")


def load_menu(text: str, prescale_set: str = "") -> Menu:
    """Read and validate a menu file, with ``prescale_set`` (empty: the file's default set) applied.

    Raises
    ------
    ConfigurationError
        Naming the file and line of what is wrong (unknown keys, types,
        stream, isolation or item names, prescales in (0, 1), an unknown set).
    """
    path = resolve_menu_path(text)
    doc = read_yaml(path, "trigger menu")
    top = Location(path, 1)
    if not isinstance(doc, dict):
        raise ConfigurationError("a trigger menu must be a mapping with keys " + ", ".join(TOP_KEYS), top)
    _check_keys(doc, TOP_KEYS, "the menu", path)
    name = str(doc.get("name", os.path.splitext(os.path.basename(path))[0]))

    streams_raw = doc.get("streams", ["physics"])
    if not isinstance(streams_raw, list) or not streams_raw or not all(isinstance(s, str) for s in streams_raw):
        raise ConfigurationError(f"'streams' must be a non-empty list of names, got {streams_raw!r}",
                                 _where(doc, "streams", path))
    streams = tuple(streams_raw)

    isolation = {}
    iso_doc = _mapping(doc.get("isolation") or {}, "'isolation'", _where(doc, "isolation", path))
    for wp, spec in iso_doc.items():
        where = _where(iso_doc, wp, path)
        spec = _mapping(spec, f"isolation {wp!r}", where)
        _check_keys(spec, ISOLATION_KEYS, f"isolation {wp!r}", path)
        values = {k: _number(v, f"isolation {wp!r} {k}", _where(spec, k, path), ge=0) for k, v in spec.items()}
        isolation[str(wp)] = Isolation(str(wp), **values)

    items_doc = doc.get("items")
    if not isinstance(items_doc, dict) or not items_doc:
        raise ConfigurationError("'items' must be a mapping {L1_NAME: {type: ..., threshold: ...}} with at least "
                                 "one item", _where(doc, "items", path) if "items" in doc else top)
    items = []
    for item_name, spec in items_doc.items():
        where = _where(items_doc, item_name, path)
        if not isinstance(item_name, str) or not _NAME.match(item_name):
            raise ConfigurationError(f"item name {item_name!r} must look like L1_EM22VHI (L1_ then letters, digits, "
                                     f"_)", where)
        spec = _mapping(spec, f"item {item_name}", where)
        _check_keys(spec, ITEM_KEYS, f"item {item_name}", path)
        at = lambda k: _where(spec, k, path)  # noqa: E731
        if "type" not in spec:
            raise ConfigurationError(f"item {item_name} needs a 'type' ({', '.join(ITEM_TYPES)})", where)
        if spec["type"] not in ITEM_TYPES:
            raise UnknownNameError("item type", str(spec["type"]), ITEM_TYPES, at("type"), context=item_name)
        if "threshold" not in spec:
            raise ConfigurationError(f"item {item_name} needs a 'threshold' (GeV)", where)
        kind = spec["type"]
        threshold = _number(spec["threshold"], f"{item_name} threshold", at("threshold"),
                            ge=None if kind == "NN" else 0)
        score = spec.get("score", "score" if kind == "NN" else "")
        if "score" in spec and (kind != "NN" or not isinstance(score, str) or not score):
            raise ConfigurationError(f"{item_name}: 'score' names the network output field of an NN item, got "
                                     f"{score!r} on a {kind} item", at("score"))
        multiplicity = _number(spec.get("multiplicity", 1), f"{item_name} multiplicity", at("multiplicity"), ge=1,
                               integer=True)
        if multiplicity != 1 and kind not in OBJECT_TYPES:
            raise ConfigurationError(f"{item_name}: multiplicity applies to EM, TAU and JET items, not {kind}",
                                     at("multiplicity"))
        eta = spec.get("eta", [0.0, 5.0])
        if (not isinstance(eta, list) or len(eta) != 2 or not all(isinstance(x, (int, float)) for x in eta)
                or not 0 <= eta[0] < eta[1]):
            raise ConfigurationError(f"{item_name} eta must be [min, max] of |eta| with 0 <= min < max, got {eta!r}",
                                     at("eta"))
        if "eta" in spec and kind not in OBJECT_TYPES:
            raise ConfigurationError(f"{item_name}: an eta range applies to EM, TAU and JET items, not {kind}",
                                     at("eta"))
        iso = None
        if spec.get("isolation") not in (None, "", "none"):
            if kind not in ("EM", "TAU"):
                raise ConfigurationError(f"{item_name}: isolation applies to EM and TAU items, not {kind}",
                                         at("isolation"))
            if spec["isolation"] not in isolation:
                raise UnknownNameError("isolation working point", str(spec["isolation"]), list(isolation),
                                       at("isolation"), context=item_name)
            iso = isolation[spec["isolation"]]
        prescale = _prescale(spec.get("prescale", 1), f"{item_name} prescale", at("prescale"))
        item_streams = _streams(spec.get("streams", [streams[0]]), streams, f"{item_name} streams", at("streams"))
        items.append(Item(item_name, kind, threshold, multiplicity, (float(eta[0]), float(eta[1])), iso, prescale,
                          item_streams, score))
    names = [item.name for item in items]

    chains = []
    chains_doc = _mapping(doc.get("chains") or {}, "'chains'", _where(doc, "chains", path))
    for chain_name, spec in chains_doc.items():
        where = _where(chains_doc, chain_name, path)
        if not isinstance(chain_name, str) or not _CHAIN.match(chain_name):
            raise ConfigurationError(f"chain name {chain_name!r} must look like HLT_j420 (HLT_ then letters, digits, "
                                     f"_)", where)
        spec = _mapping(spec, f"chain {chain_name}", where)
        _check_keys(spec, CHAIN_KEYS, f"chain {chain_name}", path)
        at = lambda k: _where(spec, k, path)  # noqa: E731
        seeds = spec.get("seed")
        if isinstance(seeds, str):
            seeds = [seeds]
        if not isinstance(seeds, list) or not seeds or not all(isinstance(x, str) for x in seeds):
            raise ConfigurationError(f"chain {chain_name} needs a 'seed': an L1 item or a list of them (e.g. "
                                     f"seed: L1_J100)", at("seed") if "seed" in spec else where)
        for seed in seeds:
            if seed not in names:
                raise UnknownNameError("L1 item", seed, names, at("seed"), context=f"seed of {chain_name}")
        prescale = _prescale(spec.get("prescale", 1), f"{chain_name} prescale", at("prescale"))
        chain_streams = _streams(spec.get("streams", [streams[0]]), streams, f"{chain_name} streams", at("streams"))
        chains.append(Chain(chain_name, tuple(seeds), prescale, chain_streams))
    names_all = names + [c.name for c in chains]

    sets_doc = _mapping(doc.get("prescale_sets") or {}, "'prescale_sets'", _where(doc, "prescale_sets", path))
    sets: dict[str, dict[str, float]] = {}
    for set_name, column in sets_doc.items():
        where = _where(sets_doc, set_name, path)
        if not isinstance(set_name, str):
            raise ConfigurationError(f"prescale set name {set_name!r} is not a string (YAML reads Off, On, Yes, No "
                                     f"as booleans): quote it", where)
        column = _mapping(column or {}, f"prescale set {set_name!r}", where)
        values = {}
        for item_name, ps in column.items():
            if item_name not in names_all:
                raise UnknownNameError("item", str(item_name), names_all, _where(column, item_name, path),
                                       context=f"prescale set {set_name!r}")
            values[item_name] = _prescale(ps, f"prescale of {item_name} in set {set_name!r}",
                                          _where(column, item_name, path))
        sets[str(set_name)] = values
    default = doc.get("default_prescale_set", next(iter(sets), ""))
    if default and default not in sets:
        raise UnknownNameError("prescale set", str(default), list(sets), _where(doc, "default_prescale_set", path))
    chosen = prescale_set or default
    if chosen and chosen not in sets:
        raise UnknownNameError("prescale set", chosen, list(sets), None, context=f"menu {path}")
    if chosen:
        items = [Item(i.name, i.type, i.threshold, i.multiplicity, i.eta, i.isolation,
                      sets[chosen].get(i.name, i.prescale), i.streams, i.score) for i in items]
        chains = [Chain(c.name, c.seeds, sets[chosen].get(c.name, c.prescale), c.streams) for c in chains]
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    return Menu(name, path, streams, items, chosen, sets, digest, chains)


def record_menu(component, menu: Menu, prop: str = "menu") -> None:
    """Record the menu file (its sha256) in the job's artefacts, so that its content is in the configuration hash
    (``--resume`` notices an edited menu), the products' provenance and the report."""
    from hepreco.framework.artefacts import Artefact

    services = getattr(component, "services", None)
    artefacts = getattr(services, "artefacts", None) if services is not None else None
    if artefacts is None or not hasattr(artefacts, "record"):
        return
    artefacts.record(component, prop, Artefact(menu.name, 1, "trigger-menu", "hepreco-menu/1", menu.path,
                                               menu.sha256, "file"))


# -- evaluation ---------------------------------------------------------------------------------
def _isolated(columns: dict, et: np.ndarray, iso: Isolation) -> np.ndarray:
    ok = np.ones(len(et), dtype=bool)
    for key in ("em_isol", "had_core", "had_isol"):
        frac = getattr(iso, key)
        if frac is not None:
            ok &= columns[key] <= frac * et + iso.offset
    return ok | (et >= iso.et_max)


def evaluate_item(item: Item, products: dict, n_events: int) -> np.ndarray:
    """Per-event decision of ``item`` before prescale.

    ``products`` maps ``"L1EmTau"`` and ``"L1Jets"`` to ``(columns, offsets)``
    (flat numpy columns and int64 offsets), ``"L1EnergySums"`` to a dict
    of per-event numpy columns, and (for ``NN`` items) ``"L1NNScores"`` to a
    dict of per-event score columns.
    """
    collection, field_name = ITEM_TYPES[item.type]
    if item.type == "NN":
        field_name = item.score
    if item.type not in OBJECT_TYPES:
        return products[collection][field_name] > item.threshold
    columns, offsets = products[collection]
    et = columns[field_name]
    ok = (et > item.threshold)
    abs_eta = np.abs(columns["eta"])
    ok &= (abs_eta >= item.eta[0]) & (abs_eta < item.eta[1])
    if item.isolation is not None:
        ok &= _isolated(columns, et, item.isolation)
    event = np.repeat(np.arange(n_events), np.diff(offsets))
    return np.bincount(event[ok], minlength=n_events) >= item.multiplicity
