"""Properties, data keys and generated documentation of components."""
import pytest

from hepreco.framework import Algorithm, Input, Output, Property, PropertyError, UnknownNameError


class Thresholds(Algorithm):
    """Example algorithm."""

    cells = Input("CaloCells", doc="cells")
    clusters = Output("Clusters", doc="clusters")
    seed_sigma = Property(4.0, doc="seed threshold", unit="sigma", gt=0)
    n_max = Property(10, doc="at most", ge=1)
    mode = Property("fast", doc="mode", choices=("fast", "exact"))
    layers = Property([1, 2], doc="layers", items=int)
    flag = Property(False, doc="flag")


def test_defaults_and_int_to_float_coercion():
    alg = Thresholds()
    assert alg.name == "Thresholds"
    assert alg.seed_sigma == 4.0 and alg.cells == "CaloCells"
    alg.seed_sigma = 3
    assert alg.seed_sigma == 3.0 and isinstance(alg.seed_sigma, float)


def test_wrong_type_names_property_expected_type_and_value():
    alg = Thresholds(name="Topo")
    with pytest.raises(PropertyError, match=r"Topo\.seed_sigma: expected float, got 'high' \(str\)"):
        alg.seed_sigma = "high"
    with pytest.raises(PropertyError, match=r"Topo\.n_max: expected int, got 2\.5 \(float\)"):
        alg.n_max = 2.5
    with pytest.raises(PropertyError, match=r"Topo\.flag: expected bool, got 1 \(int\)"):
        alg.flag = 1


def test_bounds_choices_and_list_items():
    alg = Thresholds(name="Topo")
    with pytest.raises(PropertyError, match=r"seed_sigma: must be > 0, got -1\.0"):
        alg.seed_sigma = -1.0
    with pytest.raises(PropertyError, match=r"mode: 'slow' is not one of 'fast', 'exact'"):
        alg.mode = "slow"
    with pytest.raises(PropertyError, match=r"layers: expected a list of int, got element 'x'"):
        alg.layers = [1, "x"]


def test_data_keys_are_configurable_and_checked():
    alg = Thresholds(cells="MyCells")
    assert alg.input_keys() == {"cells": "MyCells"}
    with pytest.raises(PropertyError, match="expected a store key"):
        alg.clusters = 3


def test_unknown_property_suggests_nearest():
    with pytest.raises(UnknownNameError, match=r"unknown property 'seed_sigm'.*did you mean 'seed_sigma'"):
        Thresholds(seed_sigm=3.0)


def test_defaults_are_not_shared_between_instances():
    a, b = Thresholds(), Thresholds()
    a.layers.append(3)
    assert b.layers == [1, 2]


def test_docstring_lists_inputs_outputs_properties_with_units():
    doc = Thresholds.__doc__
    assert doc.startswith("Example algorithm.")
    for text in ("Inputs\n------", "cells : store key, default 'CaloCells'", "Outputs\n-------",
                 "Properties\n----------", "seed_sigma : float, default 4.0 [sigma] (> 0)", "on_error : str"):
        assert text in doc


def test_config_hash_changes_with_settings():
    a, b = Thresholds(), Thresholds()
    assert a.config_hash() == b.config_hash()
    b.seed_sigma = 5.0
    assert a.config_hash() != b.config_hash()


class Booking(Thresholds):
    """Creates its own attributes in its methods, as algorithms do in initialize()."""

    def initialize(self):
        self.table = {"made": "in initialize"}
        self._cache = []
        self.helper()

    def helper(self):
        self.extra = [len(x) for x in ("a", "bc")]


def test_attribute_typo_from_outside_is_an_error_with_suggestion():
    alg = Thresholds(name="Topo")
    with pytest.raises(AttributeError, match=r"unknown property 'seed_sigm' in Topo \(Thresholds\); "
                                             r"did you mean 'seed_sigma'\?"):
        alg.seed_sigm = 5.0
    assert "seed_sigm" not in vars(alg) and alg.seed_sigma == 4.0
    with pytest.raises(UnknownNameError, match=r"unknown property 'zzz' in Topo \(Thresholds\); valid names: "
                                               r"'cells', 'clusters', 'flag'"):
        alg.zzz = "red"


def test_own_methods_may_create_attributes_and_outsiders_may_then_update_them():
    alg = Booking(name="B")
    alg.initialize()
    assert alg.table == {"made": "in initialize"} and alg.extra == [1, 2] and alg._cache == []
    alg.table = {}  # exists now: not a typo
    alg._private = 1  # underscore names are never checked
    alg.services = None  # declared by the class
    assert alg.table == {} and alg._private == 1


def test_services_outside_a_job_say_how_to_run_the_algorithm_alone():
    from hepreco.framework.errors import NotInAJobError

    class Books(Algorithm):
        def initialize(self):
            self.h = self.book("x")

    with pytest.raises(NotInAJobError, match=r"Solo \(Books\) has no services: it is not part of a job, so "
                                             r"self\.services\.histograms is unavailable; run it with "
                                             r"hepreco\.framework\.testing\.run\(Books\(\.\.\.\)"):
        Books(name="Solo").initialize()
