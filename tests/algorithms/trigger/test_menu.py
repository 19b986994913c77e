"""The trigger menu file (validation with file:line) and the prescale rule."""
import numpy as np
import pytest

from hepreco.algorithms._random import standalone_seeds
from hepreco.algorithms.trigger.menu import evaluate_item, load_menu, prescale_accept, prescale_uniform
from hepreco.framework.errors import ConfigurationError, UnknownNameError

MENU = """\
name: test_menu
streams: [physics, express]
isolation:
  Iso: {em_isol: 0.1, had_core: 0.05, offset: 1.0}
items:
  L1_EM10I: {type: EM, threshold: 10.0, isolation: Iso, streams: [physics, express]}
  L1_2J20:  {type: JET, threshold: 20.0, multiplicity: 2, eta: [0.0, 2.5]}
  L1_XE30:  {type: XE, threshold: 30.0, prescale: 4}
default_prescale_set: Nominal
prescale_sets:
  Nominal: {L1_2J20: 2.5}
  Standby: {L1_EM10I: -1, L1_2J20: 0}
"""


@pytest.fixture
def menu_file(tmp_path):
    def write(text=MENU):
        path = tmp_path / "menu.yaml"
        path.write_text(text)
        return str(path)
    return write


def test_menu_items_isolation_and_default_prescale_set(menu_file):
    menu = load_menu(menu_file())
    assert menu.name == "test_menu" and menu.streams == ("physics", "express")
    assert menu.item_names == ["L1_EM10I", "L1_2J20", "L1_XE30"]
    em, jets, xe = menu.items
    assert em.isolation.em_isol == 0.1 and em.isolation.had_isol is None and em.streams == ("physics", "express")
    assert (jets.multiplicity, jets.eta, jets.streams) == (2, (0.0, 2.5), ("physics",))
    assert menu.prescale_set == "Nominal"
    assert menu.prescales() == {"L1_EM10I": 1.0, "L1_2J20": 2.5, "L1_XE30": 4.0}   # unlisted: the item's prescale
    off = load_menu(menu_file(), "Standby")
    assert off.prescales() == {"L1_EM10I": -1.0, "L1_2J20": 0.0, "L1_XE30": 4.0}
    assert [i.enabled for i in off.items] == [False, False, True]


def test_shipped_menu_loads_by_name():
    menu = load_menu("l1_default")
    assert {"L1_EM22VHI", "L1_2EM15", "L1_J100", "L1_4J15", "L1_XE50", "L1_TAU60"} <= set(menu.item_names)
    assert menu.prescale_set == "Physics"
    assert load_menu("hepreco:jobs/menus/l1_default.yaml", "Standby").prescales()["L1_J100"] == 100


def test_a_network_item_passes_when_its_score_field_is_above_the_threshold(menu_file):
    text = MENU.replace("  L1_XE30:", "  L1_NNX:   {type: NN, threshold: 0.75, score: signal}\n  L1_XE30:")
    menu = load_menu(menu_file(text))
    nn = menu.items[2]
    assert (nn.type, nn.threshold, nn.score) == ("NN", 0.75, "signal")
    scores = {"L1NNScores": {"signal": np.array([0.1, 0.75, 0.76, 1.0]), "other": np.ones(4)}}
    assert evaluate_item(nn, scores, 4).tolist() == [False, False, True, True]
    assert load_menu("l1_nn").items[0].score == "ttbar"
    bad = MENU.replace("threshold: 20.0, multiplicity", "threshold: 20.0, score: x, multiplicity")
    with pytest.raises(ConfigurationError, match=r"L1_2J20: 'score' names the network output field of an NN item"):
        load_menu(menu_file(bad))


@pytest.mark.parametrize("old, new, line, message", [
    ("multiplicity: 2, eta", "multiplicty: 2, eta", 7, r"unknown key of item L1_2J20 'multiplicty'.*did you mean 'multiplicity'"),
    ("isolation: Iso,", "isolation: Isi,", 6, r"unknown isolation working point 'Isi' in L1_EM10I; did you mean 'Iso'"),
    ("{L1_2J20: 2.5}", "{L1_2J20: 0.5}", 11, r"prescale of L1_2J20 in set 'Nominal' = 0.5: a prescale is >= 1"),
    ("{L1_2J20: 2.5}", "{L1_2J21: 2.5}", 11, r"unknown item 'L1_2J21' in prescale set 'Nominal'; did you mean 'L1_2J20'"),
    ("streams: [physics, express]}", "streams: [physic]}", 6, r"unknown stream 'physic'.*did you mean 'physics'"),
    ("type: XE", "type: MET", 8, r"unknown item type 'MET' in L1_XE30"),
    ("threshold: 30.0", "threshold: high", 8, r"L1_XE30 threshold: expected a number, got 'high'"),
    ("eta: [0.0, 2.5]", "eta: [2.5, 0.0]", 7, r"L1_2J20 eta must be \[min, max\]"),
    ("default_prescale_set: Nominal", "default_prescale_set: Nomnal", 9, r"unknown prescale set 'Nomnal'"),
    ("L1_XE30:  {type: XE, threshold: 30.0, prescale: 4}",
     "L1_XE30:  {type: XE, threshold: 30.0, multiplicity: 2}", 8, r"multiplicity applies to EM, TAU and JET"),
    ("name: test_menu", "nme: test_menu", 1, r"unknown key of the menu 'nme'; did you mean 'name'"),
], ids=["item-key", "isolation", "fractional-below-1", "set-item", "stream", "type", "threshold", "eta",
        "default-set", "multiplicity", "top-key"])
def test_menu_errors_name_file_and_line(menu_file, old, new, line, message):
    assert old in MENU
    path = menu_file(MENU.replace(old, new))
    with pytest.raises(ConfigurationError, match=message) as info:
        load_menu(path)
    assert str(info.value).startswith(f"{path}:{line}: ")


def test_yaml_syntax_error_and_unknown_set_and_missing_menu(menu_file):
    path = menu_file(MENU.replace("items:", "items: ["))
    with pytest.raises(ConfigurationError, match=rf"^{path}:\d+: YAML syntax error"):
        load_menu(path)
    with pytest.raises(UnknownNameError, match=r"unknown prescale set 'Stanby'.*did you mean 'Standby'"):
        load_menu(menu_file(), "Stanby")
    path = menu_file(MENU.replace("Standby:", "Off:"))
    with pytest.raises(ConfigurationError, match=rf"^{path}:12: prescale set name False is not a string.*quote it"):
        load_menu(path)
    with pytest.raises(ConfigurationError, match=r"trigger menu 'no_such_menu' not found.*l1_default"):
        load_menu("no_such_menu")


# -- prescales ----------------------------------------------------------------------------------
N = 200_000


@pytest.mark.parametrize("prescale", [1.0, 2.0, 3.7, 10.0, 1000.0])
def test_prescale_keeps_the_documented_fraction(prescale):
    seeds = standalone_seeds(11, N)
    passed = np.ones(N, dtype=bool)
    passed[::3] = False                                   # the prescale only sees events that passed
    kept = prescale_accept(passed, seeds, "L1_TEST", prescale)
    assert not kept[~passed].any()
    # the rule, event by event: kept exactly when u < 1 / PS
    u = prescale_uniform(seeds, "L1_TEST")
    assert np.array_equal(kept, passed & (u < 1.0 / prescale))
    assert ((u > 0) & (u < 1)).all()
    # and the fraction is 1/PS within the binomial error (5 sigma)
    n, k = passed.sum(), kept.sum()
    p = 1.0 / prescale
    assert abs(k - n * p) <= 5 * np.sqrt(n * p * (1 - p)) + 1e-9
    if prescale == 1.0:
        assert k == n


@pytest.mark.parametrize("prescale", [0.0, -1.0, -5.0])
def test_prescale_zero_or_negative_disables(prescale):
    seeds = standalone_seeds(1, 1000)
    assert not prescale_accept(np.ones(1000, dtype=bool), seeds, "L1_TEST", prescale).any()


def test_prescale_decisions_are_independent_per_item_and_per_event():
    seeds = standalone_seeds(2, N)
    a, b = prescale_uniform(seeds, "L1_A"), prescale_uniform(seeds, "L1_B")
    assert abs(np.corrcoef(a, b)[0, 1]) < 0.02
    # an event's number does not depend on the other events given with it
    assert np.array_equal(prescale_uniform(seeds[1000:1010], "L1_A"), a[1000:1010])
