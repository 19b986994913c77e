"""Configurable components: typed properties and declared data keys.

Every algorithm, service, event source and output stream is a
:class:`Component`.  Its configurable surface is declared as class
attributes:

- :class:`Property`: a typed setting with default, doc, unit and validation;
- :class:`Input` / :class:`Output`: event-store keys the component reads or
  writes, each configurable by job options like a property.

The class docstring gains generated *Inputs*, *Outputs* and *Properties*
sections, so ``help()`` and ``hepreco describe`` say the same thing.
"""
from __future__ import annotations

import copy
import hashlib
import json
import logging
import numbers
import sys
from typing import Any, Callable, ClassVar

from .errors import NotInAJobError, PropertyError, UnknownAttributeError, UnknownNameError

_MISSING = object()

_TYPE_NAMES = {bool: "bool", int: "int", float: "float", str: "str", list: "list", dict: "dict"}


def _coerce(expected: type, value: Any) -> Any:
    """Return ``value`` converted to ``expected`` or raise TypeError.

    Conversions are the safe ones only: int -> float, tuple -> list, numpy
    scalars -> Python scalars.  Strings are never parsed into numbers and
    bools are never accepted as numbers.
    """
    if expected is bool:
        if isinstance(value, bool) or (type(value).__name__ == "bool_"):
            return bool(value)
    elif expected is int:
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            return int(value)
    elif expected is float:
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            return float(value)
    elif expected is str:
        if isinstance(value, str):
            return value
    elif expected is list:
        if isinstance(value, (list, tuple)):
            return list(value)
    elif expected is dict:
        if isinstance(value, dict):
            return dict(value)
    elif isinstance(value, expected):
        return value
    raise TypeError


class Property:
    """A typed, validated, documented setting of a component.

    Parameters
    ----------
    default
        Default value; its type is the property's type unless ``type`` is given.
    doc
        One line saying what the property does.
    unit
        Physical unit of the value (``"GeV"``, ``"mm"``), shown in docs.
    type
        Expected Python type (``bool``, ``int``, ``float``, ``str``, ``list``,
        ``dict``); ints are accepted for floats.
    gt, ge, lt, le
        Bounds for numbers (strictly greater, greater or equal, ...).
    choices
        Allowed values.
    items
        Type of the elements of a list property.
    validator
        Callable ``f(value)`` raising ``ValueError`` with a message when invalid.
    """

    def __init__(self, default: Any, doc: str = "", unit: str | None = None, *, type: type | None = None,
                 gt: float | None = None, ge: float | None = None, lt: float | None = None,
                 le: float | None = None, choices: tuple | list | None = None, items: type | None = None,
                 validator: Callable[[Any], None] | None = None):
        self.default = default
        self.doc = doc
        self.unit = unit
        if type is None and default is not None:
            type = default.__class__
            if type is tuple:
                type = list
        self.type = type
        self.gt, self.ge, self.lt, self.le = gt, ge, lt, le
        self.choices = tuple(choices) if choices is not None else None
        self.items = items
        self.validator = validator
        self.name = "?"

    def __set_name__(self, owner, name):
        self.name = name

    # -- descriptor protocol -------------------------------------------------
    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        values = obj.__dict__.setdefault("_values", {})
        if self.name not in values:
            values[self.name] = copy.deepcopy(self.default)
        return values[self.name]

    def __set__(self, obj, value):
        owner = getattr(obj, "label", None) or getattr(obj, "name", "?")
        obj.__dict__.setdefault("_values", {})[self.name] = self.validate(value, owner=owner)
        obj.__dict__.pop("_hash", None)

    # -- validation ----------------------------------------------------------
    @property
    def type_name(self) -> str:
        return _TYPE_NAMES.get(self.type, getattr(self.type, "__name__", "any"))

    def validate(self, value: Any, owner: str = "?") -> Any:
        """Return the checked (and safely coerced) value, or raise :class:`PropertyError`."""
        if value is None and self.default is None:
            return None
        if self.type is not None:
            try:
                value = _coerce(self.type, value)
            except TypeError:
                raise PropertyError(owner, self.name, f"expected {self.type_name}, got {value!r} "
                                    f"({type(value).__name__})") from None
        if self.items is not None and isinstance(value, list):
            try:
                value = [_coerce(self.items, v) for v in value]
            except TypeError:
                bad = next(v for v in value if not _is(self.items, v))
                raise PropertyError(owner, self.name, f"expected a list of {_TYPE_NAMES.get(self.items, self.items)}, "
                                    f"got element {bad!r} ({type(bad).__name__})") from None
        if self.choices is not None and value not in self.choices:
            raise PropertyError(owner, self.name, f"{value!r} is not one of {', '.join(map(repr, self.choices))}")
        for bound, test, word in ((self.gt, lambda v, b: v > b, ">"), (self.ge, lambda v, b: v >= b, ">="),
                                  (self.lt, lambda v, b: v < b, "<"), (self.le, lambda v, b: v <= b, "<=")):
            if bound is not None and not test(value, bound):
                raise PropertyError(owner, self.name, f"must be {word} {bound}, got {value!r}")
        if self.validator is not None:
            try:
                self.validator(value)
            except (ValueError, TypeError) as exc:
                raise PropertyError(owner, self.name, str(exc)) from None
        return value

    def describe(self) -> str:
        unit = f" [{self.unit}]" if self.unit else ""
        extra = []
        if self.choices:
            extra.append("one of " + ", ".join(map(repr, self.choices)))
        for bound, word in ((self.gt, ">"), (self.ge, ">="), (self.lt, "<"), (self.le, "<=")):
            if bound is not None:
                extra.append(f"{word} {bound}")
        rule = f" ({'; '.join(extra)})" if extra else ""
        return f"{self.name} : {self.type_name}, default {self.default!r}{unit}{rule}\n    {self.doc}"


class ServiceProperty(Property):
    """The name of a service the component uses.

    When the job is built, the named service is created (with its defaults
    when the job does not configure it), so that its own settings and
    artefacts are checked before any event; an unknown service is an error.
    """

    def __init__(self, default: str, doc: str = ""):
        super().__init__(default, doc, type=str)


def _is(t, v) -> bool:
    try:
        _coerce(t, v)
        return True
    except TypeError:
        return False


class _DataKey:
    """Common part of :class:`Input` and :class:`Output`."""

    kind = "key"

    def __init__(self, default: str, doc: str = "", optional: bool = False):
        if not isinstance(default, str) or not default:
            raise TypeError(f"{type(self).__name__} needs a non-empty store key, got {default!r}")
        self.default = default
        self.doc = doc
        self.optional = optional
        self.name = "?"

    def __set_name__(self, owner, name):
        self.name = name

    def default_for(self, component_name: str) -> str:
        return self.default.replace("{name}", component_name)

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        keys = obj.__dict__.setdefault("_keys", {})
        if self.name not in keys:
            keys[self.name] = self.default_for(obj.name)
        return keys[self.name]

    def __set__(self, obj, value):
        if not isinstance(value, str) or not value:
            raise PropertyError(getattr(obj, "name", "?"), self.name,
                                f"expected a store key (non-empty str), got {value!r} ({type(value).__name__})")
        obj.__dict__.setdefault("_keys", {})[self.name] = value
        obj.__dict__.pop("_hash", None)

    def describe(self) -> str:
        opt = ", optional" if self.optional else ""
        return f"{self.name} : store key, default {self.default!r}{opt}\n    {self.doc}"


class Input(_DataKey):
    """An event-store key the component reads (configurable by job options).

    ``match`` names settings that must agree with the configuration the product
    was made with: ``{consumer setting: producer setting}``, e.g.
    ``Input("AntiKt10Jets", match={"R": "R"})`` requires the jets' producer to
    have the same ``R`` as the consumer.  Checked when the job is built.
    """

    kind = "input"

    def __init__(self, default: str, doc: str = "", optional: bool = False, *,
                 match: dict[str, str] | None = None):
        super().__init__(default, doc, optional)
        self.match = dict(match or {})

    def describe(self) -> str:
        text = super().describe()
        if self.match:
            text += "\n    must match its producer's " + ", ".join(
                f"{theirs} (this {ours})" if theirs != ours else theirs for ours, theirs in self.match.items())
        return text


class Output(_DataKey):
    """An event-store key the component writes (configurable by job options).

    ``{name}`` in the default key is replaced by the component's instance name.
    ``carries`` names inputs whose product configuration this output passes on
    (a calibration of jets still carries the jet finder's ``R``): see
    :class:`Input` ``match``.
    """

    kind = "output"

    def __init__(self, default: str, doc: str = "", optional: bool = False, *, carries: tuple[str, ...] = ()):
        super().__init__(default, doc, optional)
        self.carries = tuple(carries)


def _docstring_sections(cls) -> str:
    parts = []
    for title, table in (("Inputs", cls._inputs), ("Outputs", cls._outputs), ("Properties", cls._properties)):
        if table:
            lines = [title, "-" * len(title)]
            lines += [d.describe() for d in table.values()]
            parts.append("\n".join(lines))
    return "\n\n".join(parts)


class _NoServices:
    """What ``component.services`` is outside a job: any use says how to run the component alone."""

    def __init__(self, owner: "Component"):
        self.owner = owner

    def __getattr__(self, attr: str):
        owner = self.owner
        raise NotInAJobError(
            f"{owner.name} ({owner.type_name}) has no services: it is not part of a job, so "
            f"self.services.{attr} is unavailable; run it with hepreco.framework.testing.run("
            f"{owner.type_name}(...), inputs={{...}}), which sets up histograms, random numbers and the other "
            "services")

    def __bool__(self) -> bool:
        return False


class _ServicesSlot:
    """Descriptor of ``Component.services``: the job's services, or :class:`_NoServices` before a job sets them."""

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        found = obj.__dict__.get("services")
        return found if found is not None else _NoServices(obj)

    def __set__(self, obj, value) -> None:
        obj.__dict__["services"] = value


def _own_code(obj: Any, depth: int) -> bool:
    """Whether the frame ``depth`` levels up runs code of ``obj`` itself (a method called on it)."""
    frame = sys._getframe(depth + 1)
    code = frame.f_code
    local = frame.f_locals
    return (code.co_argcount > 0 and local.get(code.co_varnames[0]) is obj) or local.get("self") is obj


class Component:
    """Base of everything a job configures: a name, properties and data keys.

    Construct with keyword arguments, ``Alg(name="X", threshold=2.0)``; every
    value goes through the same validation as job options.

    Attributes are typo-proof: from outside the component (job options in
    Python, a test, an interactive session) only its declared properties,
    inputs and outputs and the attributes its class defines can be set;
    ``alg.seed_sigm = 5.0`` raises
    :class:`~hepreco.framework.errors.UnknownAttributeError` with the nearest
    valid names.  The component's own methods (``__init__``, ``initialize``,
    ``execute``, helpers) may create any attribute (``self.h_pt =
    self.book(...)``), and names starting with ``_`` are never checked.
    """

    #: Name used in job options (``type:``); defaults to the class name.
    type_name: ClassVar[str] = ""
    #: Which registry the component belongs to ("algorithm", "service", "source", "output").
    kind: ClassVar[str] = "component"

    #: The job's services (:class:`~hepreco.framework.services.Services`), set when the job is built.
    services = _ServicesSlot()

    _properties: ClassVar[dict[str, Property]] = {}
    _inputs: ClassVar[dict[str, Input]] = {}
    _outputs: ClassVar[dict[str, Output]] = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "type_name" not in cls.__dict__:
            cls.type_name = cls.__name__
        props, inputs, outputs = {}, {}, {}
        for base in reversed(cls.__mro__):
            for attr, value in vars(base).items():
                for table in (props, inputs, outputs):
                    table.pop(attr, None)  # a subclass may redeclare or hide an inherited one
                if isinstance(value, Property):
                    props[attr] = value
                elif isinstance(value, Input):
                    inputs[attr] = value
                elif isinstance(value, Output):
                    outputs[attr] = value
        cls._properties, cls._inputs, cls._outputs = props, inputs, outputs
        doc = (cls.__dict__.get("__doc__") or "").rstrip()
        sections = _docstring_sections(cls)
        if sections:
            import inspect

            cls.__doc__ = (inspect.cleandoc(doc) + "\n\n" + sections) if doc else sections

    def __init__(self, name: str | None = None, **values: Any):
        self.name = name or self.type_name
        self._values: dict[str, Any] = {}
        self._keys: dict[str, str] = {}
        for key, value in values.items():
            self.set(key, value)

    def __setattr__(self, key: str, value: Any) -> None:
        if not (key.startswith("_") or key in self.__dict__ or hasattr(type(self), key) or _own_code(self, 1)):
            raise UnknownAttributeError("property", key, self.settable(),
                                        context=f"{self.__dict__.get('name', '?')} ({self.type_name})")
        object.__setattr__(self, key, value)

    # -- configuration -------------------------------------------------------
    @classmethod
    def settable(cls) -> list[str]:
        """Names accepted by :meth:`set`: properties, inputs and outputs."""
        return [*cls._properties, *cls._inputs, *cls._outputs]

    def set(self, key: str, value: Any) -> None:
        """Set a property or data key by name, with validation."""
        if key not in self.settable():
            raise UnknownNameError("property", key, self.settable(), context=f"{self.name} ({self.type_name})")
        setattr(self, key, value)

    def properties(self) -> dict[str, Any]:
        """All property values, defaults included."""
        return {k: getattr(self, k) for k in self._properties}

    def input_keys(self) -> dict[str, str]:
        return {k: getattr(self, k) for k in self._inputs}

    def output_keys(self) -> dict[str, str]:
        return {k: getattr(self, k) for k in self._outputs}

    def extra_inputs(self) -> dict[str, str]:
        """Keys this component reads that its configuration names rather than an ``Input``: ``{what: key}``.

        A trigger menu reads the decision of each of its chains, named in the
        menu file.  With ``job.scheduling: dataflow`` their producers are
        ordered before this component, and the data-flow graph shows them;
        checking that they exist is the component's own (``check_job``).
        """
        return {}

    def resolved(self) -> dict[str, Any]:
        """Every setting (properties and keys) as plain data, for dumps and hashes."""
        return {**self.properties(), **self.input_keys(), **self.output_keys()}

    def config_hash(self) -> str:
        """Short hash of the type, resolved settings and the sha256 of resolved artefacts (recorded as provenance;
        cached until a setting changes)."""
        cached = self.__dict__.get("_hash")
        if cached is None:
            settings = {"type": self.type_name, **self.resolved()}
            artefacts = self.__dict__.get("_artefacts")
            if artefacts:
                settings["artefacts"] = {prop: art.sha256 for prop, art in artefacts.items()}
            blob = json.dumps(settings, sort_keys=True, default=str)
            cached = self.__dict__["_hash"] = hashlib.sha256(blob.encode()).hexdigest()[:16]
        return cached

    def check(self, registry) -> None:
        """Checks that need the registry or several properties together (override).

        Called while the job is built, before any event (in the client and
        in every worker); raise
        :class:`~hepreco.framework.errors.ConfigurationError` (it is given the
        component's job-file location), or
        :class:`~hepreco.framework.errors.PropertyError` (given the line of
        that property).
        """

    def check_job(self, job) -> None:
        """Checks that need the whole built job: its sequences, source and outputs (override).

        Called once in the client's build (``hepreco run`` and ``validate``),
        after every component's :meth:`check` and the data-flow check, with
        the :class:`~hepreco.framework.job.Job` (``job.top`` holds the
        sequences in execution order).  Raise
        :class:`~hepreco.framework.errors.ConfigurationError` (it is given the
        component's job-file location) or
        :class:`~hepreco.framework.errors.PropertyError`.
        """

    def preflight(self) -> None:
        """Costly checks, run once when the job is built for ``hepreco run`` or ``validate`` (override).

        Unlike :meth:`check`, this is not repeated in every worker: use it
        for what needs an external program or file to answer (e.g. whether
        a generator understands its settings), so that ``validate`` refuses
        what the workers would refuse.  Raise
        :class:`~hepreco.framework.errors.ConfigurationError`, or
        :class:`~hepreco.framework.errors.PropertyError` to point at the
        line of one property.
        """

    # -- artefacts (see hepreco.framework.artefacts) ---------------------------
    def artefact_context(self) -> dict[str, str]:
        """What the component's artefacts must fit (override), e.g. ``{"geometry": "small"}``.

        Fills the placeholders of artefact names (``"jes-{geometry}"``) and is
        checked against each artefact's metadata when the job is built.
        """
        return {}

    def generate_artefact(self, prop: str) -> str:
        """Path of an artefact the component makes itself when ``prop`` is left empty (override)."""
        return ""

    def artefact(self, prop: str):
        """The resolved :class:`~hepreco.framework.artefacts.Artefact` of the artefact property ``prop``.

        Resolved when the job is built; a component used outside a job
        resolves it on first use through its services.
        """
        resolved = self.__dict__.get("_artefacts", {})
        if prop not in resolved:
            from .artefacts import ArtefactSvc

            svc = getattr(getattr(self, "services", None), "artefacts", None) or ArtefactSvc()
            return svc.resolve(self, prop)
        return resolved[prop]

    def artefact_digests(self) -> tuple[tuple[str, str], ...]:
        """``((name@version, sha256), ...)`` of the resolved artefacts (for provenance)."""
        return tuple((a.label, a.sha256) for a in self.__dict__.get("_artefacts", {}).values())

    # -- conveniences for subclasses -----------------------------------------
    @property
    def log(self) -> logging.Logger:
        """The component's logger (``hepreco.<name>``); levels set by the MessageSvc."""
        return logging.getLogger(f"hepreco.{self.name}")

    def __repr__(self) -> str:
        return f"<{self.type_name} {self.name!r}>"
