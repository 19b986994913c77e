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
from typing import Any, Callable, ClassVar

from .errors import PropertyError, UnknownNameError

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
    """An event-store key the component reads (configurable by job options)."""

    kind = "input"


class Output(_DataKey):
    """An event-store key the component writes (configurable by job options).

    ``{name}`` in the default key is replaced by the component's instance name.
    """

    kind = "output"


def _docstring_sections(cls) -> str:
    parts = []
    for title, table in (("Inputs", cls._inputs), ("Outputs", cls._outputs), ("Properties", cls._properties)):
        if table:
            lines = [title, "-" * len(title)]
            lines += [d.describe() for d in table.values()]
            parts.append("\n".join(lines))
    return "\n\n".join(parts)


class Component:
    """Base of everything a job configures: a name, properties and data keys.

    Construct with keyword arguments, ``Alg(name="X", threshold=2.0)``; every
    value goes through the same validation as job options.
    """

    #: Name used in job options (``type:``); defaults to the class name.
    type_name: ClassVar[str] = ""
    #: Which registry the component belongs to ("algorithm", "service", "source", "output").
    kind: ClassVar[str] = "component"

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

    def resolved(self) -> dict[str, Any]:
        """Every setting (properties and keys) as plain data, for dumps and hashes."""
        return {**self.properties(), **self.input_keys(), **self.output_keys()}

    def config_hash(self) -> str:
        """Short hash of the type and resolved settings (recorded as provenance; cached until a setting changes)."""
        cached = self.__dict__.get("_hash")
        if cached is None:
            blob = json.dumps({"type": self.type_name, **self.resolved()}, sort_keys=True, default=str)
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

    # -- conveniences for subclasses -----------------------------------------
    @property
    def log(self) -> logging.Logger:
        """The component's logger (``hepreco.<name>``); levels set by the MessageSvc."""
        return logging.getLogger(f"hepreco.{self.name}")

    def __repr__(self) -> str:
        return f"<{self.type_name} {self.name!r}>"
