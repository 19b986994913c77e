"""Optional dependencies: import helpers that name the extra to install, checked when the job is built."""
import importlib.util
import pickle
import sys

import pytest

from hepreco.framework import ConfigurationError, MissingDependency, extras
from hepreco.framework.cli import main
from hepreco.framework.errors import Location

from ..conftest import build_job

INSTALL = {"fastjet": r'pip install "hepreco\[fastjet\]"', "vector": r'pip install "hepreco\[fastjet\]"',
           "dask": r'pip install "hepreco\[dask\]"', "distributed": r'pip install "hepreco\[dask\]"',
           "torch": r'pip install torch==2\.13\.0 \(the CPU build\), or pip install "hepreco\[ml\]"',
           "safetensors": r'pip install "hepreco\[ml\]"',
           "hls4ml": r'pip install "hepreco\[fpga\]"', "brevitas": r'pip install "hepreco\[fpga\]"'}


def test_every_optional_package_has_a_helper_and_an_install_hint():
    assert set(extras.PACKAGES) == set(INSTALL)
    for module in extras.PACKAGES:
        assert callable(getattr(extras, module))


@pytest.mark.parametrize("module", sorted(INSTALL))
def test_helper_of_a_missing_package_names_the_extra(monkeypatch, module):
    monkeypatch.setitem(sys.modules, module, None)  # what `import module` sees when it is not installed
    with pytest.raises(MissingDependency, match=rf"^MyAlg needs the optional package '{module}', which is not "
                                                rf"installed; install it with: {INSTALL[module]}$") as info:
        getattr(extras, module)(needed_by="MyAlg")
    err = info.value
    assert isinstance(err, ModuleNotFoundError) and isinstance(err, ConfigurationError)
    assert err.name == module and err.package == module and err.extra == extras.PACKAGES[module].extra


def test_helper_returns_the_module_when_installed():
    import fastjet

    assert extras.fastjet() is fastjet


def test_helper_tells_a_broken_install_from_a_missing_one(monkeypatch, tmp_path):
    (tmp_path / "brevitas").mkdir()
    (tmp_path / "brevitas" / "__init__.py").write_text("from keras import layers\n")
    monkeypatch.delitem(sys.modules, "brevitas", raising=False)
    monkeypatch.setitem(sys.modules, "keras", None)
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(MissingDependency, match=r"the optional package 'brevitas', which failed to import "
                                                r"\(ModuleNotFoundError: import of keras halted.*\); reinstall it "
                                                r'with: pip install "hepreco\[fpga\]"'):
        extras.brevitas()


def test_available_and_require_do_not_import(monkeypatch):
    asked = []

    def find_spec(name, package=None):
        asked.append(name)
        return None

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    monkeypatch.delitem(sys.modules, "hls4ml", raising=False)
    assert not extras.available("hls4ml")
    with pytest.raises(MissingDependency, match=r"^L1Net needs the optional package 'hls4ml', which is not "
                                                r'installed; install it with: pip install "hepreco\[fpga\]"$'):
        extras.require("hls4ml", needed_by="L1Net")
    assert asked == ["hls4ml", "hls4ml"] and "hls4ml" not in sys.modules
    monkeypatch.undo()
    assert extras.available("numpy") and not extras.available("hepreco_no_such_package")
    extras.require("numpy")


def test_missing_dependency_keeps_its_fields_across_processes():
    err = extras.missing("dask", "the dask executor").at(Location("job.yaml", 4))
    again = pickle.loads(pickle.dumps(err))
    assert type(again) is MissingDependency and str(again) == str(err)
    assert str(again).startswith("job.yaml:4: the dask executor needs the optional package 'dask'")
    assert again.name == "dask" and again.extra == "dask" and again.location == Location("job.yaml", 4)


def test_dask_executor_without_dask_is_refused_when_the_job_is_built(monkeypatch, toy_job, tmp_path):
    monkeypatch.setitem(sys.modules, "distributed", None)
    path = toy_job(str(tmp_path / "out"))
    with pytest.raises(MissingDependency, match=r"^--set job.executor=dask: the dask executor needs the optional "
                                                r"package 'distributed', which is not installed; install it with: "
                                                r'pip install "hepreco\[dask\]"$'):
        build_job(path, "job.executor=dask")
    build_job(path, "job.executor=processes")  # the others need nothing optional


def test_validate_refuses_dask_executor_without_dask_before_processing(monkeypatch, toy_job, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "dask", None)
    path = toy_job(str(tmp_path / "out"))
    with open(path) as f:
        text = f.read().replace("  progress: false\n", "  progress: false\n  executor: dask\n")
    with open(path, "w") as f:
        f.write(text)
    for command in ("validate", "run"):
        assert main([command, path]) == 2
        err = capsys.readouterr().err
        assert err == (f"hepreco: error: {path}:8: the dask executor needs the optional package 'dask', which is "
                       "not installed; install it with: pip install \"hepreco[dask]\"\n")
    assert not (tmp_path / "out").exists()
