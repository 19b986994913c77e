"""The package map in hepreco.algorithms' docstring names every module, and only existing ones."""
import pkgutil
import re

import hepreco.algorithms as algorithms


def test_package_map_lists_every_module():
    prefix = algorithms.__name__ + "."
    modules = {info.name.removeprefix(prefix) for info in pkgutil.walk_packages(algorithms.__path__, prefix)
               if not info.ispkg}
    table = re.findall(r"^``([\w.]+)``\s", algorithms.__doc__, flags=re.MULTILINE)
    assert len(table) == len(set(table))
    assert sorted(table) == sorted(modules)
