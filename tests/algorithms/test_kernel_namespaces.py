"""Every domain's kernels.py is the one namespace of its kernels."""
import importlib

import pytest


@pytest.mark.parametrize("domain", ["calo", "clusters", "egamma", "generation", "jets"])
def test_every_listed_kernel_is_importable_from_the_namespace(domain):
    kernels = importlib.import_module(f"hepreco.algorithms.{domain}.kernels")
    missing = [name for name in kernels.__all__ if not hasattr(kernels, name)]
    assert kernels.__all__ and not missing


@pytest.mark.parametrize("module, names", [
    ("substructure", ["jet_substructure", "jet_mass", "nsubjettiness", "energy_correlations", "soft_drop",
                      "Substructure", "SoftDrop"]),
    ("images", ["jet_images", "image_coordinates", "ImageFrame"]),
])
def test_jet_namespace_reexports_the_substructure_and_image_kernels(module, names):
    from hepreco.algorithms.jets import kernels

    source = importlib.import_module(f"hepreco.algorithms.jets.{module}")
    for name in names:
        assert getattr(kernels, name) is getattr(source, name)
        assert name in kernels.__all__ and name in dir(kernels)
    with pytest.raises(AttributeError, match="has no attribute 'jet_imgaes'"):
        kernels.jet_imgaes
