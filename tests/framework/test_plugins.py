"""Plugin discovery through entry points (faked, and a real package installed with pip)."""
import importlib.metadata
import json
import os
import subprocess
import sys
import types

import pytest

from hepreco.framework import Algorithm, ConfigurationError, hookimpl
from hepreco.framework.plugins import build_registry

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(ROOT, "plugins", "examples", "hepreco-example-plugin")


class FakeAlgorithm(Algorithm):
    """An algorithm from a fake distribution."""


fake_plugin = types.ModuleType("fake_plugin")


@hookimpl
def _register():
    return [FakeAlgorithm]


fake_plugin.hepreco_register_algorithms = _register


class FakeEntryPoint:
    group = "hepreco"
    name = "fake"
    value = "fake_plugin"

    def load(self):
        return fake_plugin


class FakeDistribution:
    entry_points = (FakeEntryPoint(),)
    metadata = {"name": "fake-experiment"}
    version = "9.9"


@pytest.fixture
def fake_entry_points(monkeypatch):
    real = importlib.metadata.distributions

    def distributions():
        yield from real()
        yield FakeDistribution()

    monkeypatch.setattr(importlib.metadata, "distributions", distributions)


def test_entry_point_plugins_are_loaded_and_attributed(fake_entry_points, monkeypatch):
    monkeypatch.delenv("HEPRECO_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    registry = build_registry()
    assert registry.get("algorithm", "FakeAlgorithm") is FakeAlgorithm
    info = {p.name: p for p in registry.plugins}
    assert info["fake"].distribution == "fake-experiment" and info["fake"].version == "9.9"
    assert info["fake"].provides == {"algorithm": ["FakeAlgorithm"]}
    # the built-ins come through the same mechanism
    assert "PythiaSource" in info["builtin"].provides["source"]


def test_autoload_can_be_disabled(fake_entry_points, monkeypatch):
    monkeypatch.setenv("HEPRECO_DISABLE_PLUGIN_AUTOLOAD", "1")
    registry = build_registry()
    assert "FakeAlgorithm" not in registry.names("algorithm")
    assert "RootOutput" in registry.names("output")  # built-ins always load
    monkeypatch.setenv("HEPRECO_PLUGINS", "tests.framework.components")
    assert "ToySource" in build_registry().names("source")


def test_two_plugins_providing_one_name_is_an_error(fake_entry_points, monkeypatch):
    clash = types.ModuleType("clash")

    class TruthHistograms(Algorithm):
        pass

    clash.hepreco_register_algorithms = hookimpl(lambda: [TruthHistograms])
    monkeypatch.setitem(sys.modules, "clash", clash)
    with pytest.raises(ConfigurationError, match="algorithm 'TruthHistograms' is provided by two plugins: "
                                                 "'builtin' and 'clash'"):
        build_registry(["clash"])


def test_unknown_plugin_module_is_a_clear_error():
    with pytest.raises(ConfigurationError, match="plugin module 'no_such_plugin' cannot be imported"):
        build_registry(["no_such_plugin"])


@pytest.fixture(scope="module")
def installed_example(tmp_path_factory):
    target = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(target), EXAMPLE], check=True, capture_output=True, timeout=300)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(target), env.get("PYTHONPATH", "")])
    env.pop("HEPRECO_DISABLE_PLUGIN_AUTOLOAD", None)
    return env


def test_installed_example_plugin_is_listed(installed_example):
    out = subprocess.run([sys.executable, "-m", "hepreco.framework.cli", "plugins"], env=installed_example,
                         capture_output=True, text=True, check=True).stdout
    assert "example  (hepreco-example-plugin 0.1.0; hepreco_example.plugin)" in out
    assert "TruthMissingET" in out


def test_installed_example_plugin_runs_in_a_job(installed_example, tmp_path):
    job = tmp_path / "met.yaml"
    job.write_text(f"""\
job: {{evt_max: 6, chunk_size: 3, output_dir: {tmp_path / 'out'}, progress: false}}
source: {{type: PythiaSource}}
algorithms:
  - {{type: TruthMissingET, eta_max: 2.5}}
outputs:
  - {{type: Hdf5Output, name: Met, collections: [TruthMET]}}
""")
    proc = subprocess.run([sys.executable, "-m", "hepreco.framework.cli", "run", str(job), "--quiet"],
                          env=installed_example, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["plugin_notes"] == {"example": "TruthMissingET was available"}
    assert report["timing"]["TruthMissingET"]["events"] == 6
    from hepreco.framework.io.hdf5 import read_hdf5

    ids, data = read_hdf5(str(tmp_path / "out" / "Met" / "part-00000.h5"))
    # with |eta| < 2.5 much of the event escapes: the truth MET is far from zero
    assert data["TruthMET"].shape == (3,) and (data["TruthMET"] > 0.5).all()


def test_installed_example_plugin_ships_a_geometry_and_its_tables(installed_example):
    target = installed_example["PYTHONPATH"].split(os.pathsep)[0]
    out = subprocess.run([sys.executable, "-m", "hepreco.framework.cli", "artefacts"], env=installed_example,
                         capture_output=True, text=True, check=True).stdout
    rows = {line.split()[0]: line.split() for line in out.splitlines()[1:-1]}
    for name, kind in (("lcw-coarse", "lcw"), ("jes-coarse", "jes")):
        assert rows[name][1:4] == ["1", kind, "coarse"] and rows[name][5:7] == ["plugin", "example"]
        assert rows[name][7] == os.path.join(target, "hepreco_example", "data", f"{name}.h5")
        assert os.path.getsize(rows[name][7]) < 100_000
    plugins = subprocess.run([sys.executable, "-m", "hepreco.framework.cli", "plugins"], env=installed_example,
                             capture_output=True, text=True, check=True).stdout
    assert "    geometries   coarse" in plugins


def test_main_job_runs_on_the_example_plugin_geometry_with_its_tables(installed_example, tmp_path):
    target = installed_example["PYTHONPATH"].split(os.pathsep)[0]
    proc = subprocess.run([sys.executable, "-m", "hepreco.framework.cli", "run", os.path.join(ROOT, "jobs", "main.yaml"),
                           "--evt-max", "10", "--chunk-size", "5", "--set", "GeometrySvc.geometry=coarse",
                           "--output-dir", str(tmp_path / "main"), "--quiet"],
                          env=installed_example, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    report = json.loads((tmp_path / "main" / "report.json").read_text())
    assert report["status"] == "ok" and report["events"]["read"] == 10
    assert report["config"]["services"]["GeometrySvc"]["geometry"] == "coarse"
    used = report["artefacts"]
    for who, name in (("LocalHadronicCalibration.file", "lcw-coarse"), ("AntiKt4Calibrated.file", "jes-coarse")):
        assert (used[who]["name"], used[who]["geometry"], used[who]["origin"]) == (name, "coarse", "plugin example")
        assert used[who]["path"] == os.path.join(target, "hepreco_example", "data", f"{name}.h5")
    assert used["ConditionsSvc.file"]["geometry"] == "coarse" and used["ConditionsSvc.file"]["origin"] == "generated"
    assert report["timing"]["AntiKt4Calibrated"]["events"] == 10


def test_lazy_references_are_imported_only_when_used():
    code = ("import sys\n"
            "from hepreco.framework.plugins import build_registry\n"
            "r = build_registry()\n"
            "assert 'FastCaloSim' in r.names('algorithm')\n"
            "assert 'numba' not in sys.modules and 'hepreco.algorithms.calo.cell_chain' not in sys.modules\n"
            "cls = r.get('algorithm', 'FastCaloSim')\n"
            "assert cls.__name__ == 'FastCaloSim' and 'numba' in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_broken_lazy_reference_names_plugin_and_reference(monkeypatch):
    broken = types.ModuleType("broken_plugin")
    broken.hepreco_register_algorithms = hookimpl(lambda: ["no_such_module:Thing", "hepreco.framework:Algorithm"])
    monkeypatch.setitem(sys.modules, "broken_plugin", broken)
    registry = build_registry(["broken_plugin"])
    with pytest.raises(ConfigurationError, match=r"plugin 'broken_plugin' registered 'Thing' as "
                                                 r"'no_such_module:Thing', which cannot be imported"):
        registry.get("algorithm", "Thing")
    assert registry.get("algorithm", "Algorithm").__name__ == "Algorithm"
