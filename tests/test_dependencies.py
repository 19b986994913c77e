"""A plain ``pip install -e .`` has everything the installed code imports.

Every import in framework/, algorithms/ and plugins/ (not plugins/examples, a
separate package) is read with ``ast``; each third-party module is mapped to
its distribution, which must be in setup.cfg's ``install_requires`` unless
the module is imported only inside ``framework/extras.py`` (the optional
packages, each with its extra).  The ``test`` extra installs more than
``install_requires``, so without this check CI cannot see a missing
declaration.
"""
from __future__ import annotations

import ast
import configparser
import importlib.metadata
import os
import re
import sys

import pytest

from hepreco.framework import extras

from .conftest import ROOT

PACKAGES = ("framework", "algorithms", "plugins")
HELPER = os.path.join("framework", "extras.py")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(line: str) -> str:
    return _norm(re.split(r"[\s<>=!~;\[]", line.strip(), maxsplit=1)[0])


def read_setup_cfg(path: str) -> tuple[set[str], dict[str, set[str]]]:
    """(distributions in install_requires, distributions of each extra), names normalised."""
    cfg = configparser.ConfigParser()
    cfg.read(path)

    def names(text: str) -> set[str]:
        return {_requirement_name(line) for line in text.splitlines() if line.strip()}

    base = names(cfg.get("options", "install_requires", fallback=""))
    extra = {k: names(v) for k, v in cfg.items("options.extras_require")} if cfg.has_section(
        "options.extras_require") else {}
    return base, extra


def third_party_imports(root: str) -> dict[str, list[str]]:
    """Top-level third-party module -> ``file:line`` of each import, over the installed packages."""
    found: dict[str, list[str]] = {}
    for package in PACKAGES:
        for folder, dirs, files in os.walk(os.path.join(root, package)):
            rel_folder = os.path.relpath(folder, root)
            if rel_folder.split(os.sep)[:2] == ["plugins", "examples"]:
                dirs[:] = []
                continue
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            for name in sorted(files):
                if not name.endswith(".py"):
                    continue
                rel = os.path.join(rel_folder, name)
                with open(os.path.join(root, rel)) as f:
                    tree = ast.parse(f.read(), rel)
                for node in ast.walk(tree):
                    if isinstance(node, ast.Import):
                        modules = [alias.name for alias in node.names]
                    elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                        modules = [node.module]
                    else:
                        continue
                    for module in modules:
                        top = module.split(".")[0]
                        if top in sys.stdlib_module_names or top in ("__future__", "hepreco"):
                            continue
                        found.setdefault(top, []).append(f"{rel}:{node.lineno}")
    return {m: sorted(set(w), key=lambda x: (x.rpartition(":")[0], int(x.rpartition(":")[2])))
            for m, w in found.items()}


def undeclared(root: str) -> list[str]:
    """One line per third-party import that a plain ``pip install`` of ``root`` would not provide."""
    base, extra = read_setup_cfg(os.path.join(root, "setup.cfg"))
    distributions = importlib.metadata.packages_distributions()
    problems = []
    for module, where in sorted(third_party_imports(root).items()):
        where = [w for w in where if not w.startswith(HELPER + ":")]
        if not where:
            continue  # reached only through the extras helper
        dists = {_norm(d) for d in distributions.get(module, [])}
        if not dists:
            problems.append(f"import {module} at {', '.join(where)}: not installed here, so its distribution is "
                            "unknown; install it and declare it in setup.cfg install_requires")
        elif not dists & base:
            extras_of = sorted(e for e, names in extra.items() if names & dists)
            state = f"only in extras {extras_of}" if extras_of else "not declared"
            problems.append(f"import {module} ({', '.join(sorted(dists))}, {state}) at {', '.join(where)}: add it "
                            "to setup.cfg install_requires, or import it through hepreco.framework.extras")
    return problems


def test_every_import_of_the_installed_code_is_declared_in_install_requires():
    problems = undeclared(ROOT)
    assert not problems, "a plain 'pip install -e .' misses:\n" + "\n".join(problems)


def test_optional_packages_are_imported_nowhere_but_the_extras_helper():
    imports = third_party_imports(ROOT)
    for module in extras.PACKAGES:
        where = imports.get(module, [])
        assert where, f"framework/extras.py does not import {module}"
        assert all(w.startswith(HELPER + ":") for w in where), f"{module} imported outside the helper: {where}"


def test_every_optional_package_is_installed_by_the_extra_its_message_names():
    base, extra = read_setup_cfg(os.path.join(ROOT, "setup.cfg"))
    for module, info in extras.PACKAGES.items():
        assert _norm(module) in extra.get(info.extra, set()), f"extra [{info.extra}] does not install {module}"
        assert _norm(module) not in base, f"{module} is optional but in install_requires"
        assert f'"hepreco[{info.extra}]"' in info.install
    assert "torch" not in extra["test"], "the test extra stays without torch"


@pytest.mark.parametrize("case", ["scipy only in the test extra", "fastjet imported by a plugin class",
                                  "an undeclared package"])
def test_import_check_reports_what_a_fresh_install_misses(tmp_path, case):
    for package in PACKAGES:
        (tmp_path / package).mkdir()
    (tmp_path / "plugins" / "examples").mkdir()
    (tmp_path / "plugins" / "examples" / "plugin.py").write_text("import fastjet\n")  # its own package
    (tmp_path / "framework" / "extras.py").write_text("import os\n\n\ndef fastjet():\n    import fastjet\n")
    requires = ["numpy", "awkward"]
    test_extra = ["pytest", "scipy>=1.10", "fastjet"]
    code = "import numpy as np\nfrom awkward import Array\nfrom . import kernels\n"
    if case == "scipy only in the test extra":
        code += "\n\ndef f():\n    from scipy.interpolate import PchipInterpolator\n"
        expected = (r"^import scipy \(scipy, only in extras \['test'\]\) at algorithms/calibration.py:7: add it to "
                    r"setup.cfg install_requires, or import it through hepreco.framework.extras$")
    elif case == "fastjet imported by a plugin class":
        code += "import fastjet\n"
        expected = r"^import fastjet \(fastjet, only in extras \['all', 'test'\]\) at algorithms/calibration.py:4: "
    else:
        code += "import hepreco_no_such_package.sub\n"
        expected = r"^import hepreco_no_such_package at algorithms/calibration.py:4: not installed here"
    (tmp_path / "algorithms" / "calibration.py").write_text(code)
    (tmp_path / "setup.cfg").write_text(
        "[options]\ninstall_requires =\n" + "".join(f"    {r}\n" for r in requires)
        + "[options.extras_require]\ntest =\n" + "".join(f"    {r}\n" for r in test_extra)
        + "all =\n    fastjet>=3.4.2\n")
    problems = undeclared(str(tmp_path))
    assert len(problems) == 1 and re.match(expected, problems[0]), problems
    (tmp_path / "setup.cfg").write_text((tmp_path / "setup.cfg").read_text().replace(
        "install_requires =\n", "install_requires =\n    scipy>=1.10\n    fastjet\n"))
    fixed = undeclared(str(tmp_path))  # the same code once scipy and fastjet are install_requires
    assert fixed == (problems if case == "an undeclared package" else [])
