"""Loading a trained generator artefact and generating showers in batches (inference).

:func:`load` reads the safetensors weights and the model sizes from the
artefact's metadata; :meth:`ShowerGenerator.generate` turns energies,
particle types and latent noise into dense ``calogan`` cells under
``torch.inference_mode()``, in batches of ``batch_size``.
"""
from __future__ import annotations

import numpy as np

from hepreco.framework import extras
from hepreco.framework.artefacts import read_metadata
from hepreco.framework.errors import ArtefactError

from . import safetensors_io
from .model import ModelConfig, condition, generator, type_index


class ShowerGenerator:
    """A trained generator, ready to generate (CPU, evaluation mode)."""

    def __init__(self, module, config: ModelConfig):
        # float64 arithmetic, rounded to float32 at the end: a shower does not change (beyond a 1e-9 chance of
        # one cell in its last float32 bit) with the batch it was computed in, whose size steers the BLAS kernels
        self.module = module.double().eval()
        self.config = config

    @property
    def latent(self) -> int:
        return self.config.latent

    def generate(self, energy: np.ndarray, pdg_id: np.ndarray, noise: np.ndarray,
                 batch_size: int = 1024) -> np.ndarray:
        """Cells [GeV], float32 (N, 504), for energies [GeV], PDG ids and latent noise (N, latent).

        Particles the generator was not trained for raise ValueError.
        """
        torch = extras.torch(needed_by="the CaloGAN generator")
        energy = np.asarray(energy, dtype=np.float64)
        types = type_index(pdg_id, self.config.particles)
        if (types < 0).any():
            unknown = sorted(set(np.asarray(pdg_id)[types < 0].tolist()))
            raise ValueError(f"no shower generator for particles {unknown}; this one was trained for "
                             f"{list(self.config.particles)}")
        cond = condition(energy, types, len(self.config.particles))
        out = np.empty((len(energy), 504), dtype=np.float32)
        with torch.inference_mode():
            for first in range(0, len(energy), batch_size):
                sl = slice(first, first + batch_size)
                cells = self.module(torch.from_numpy(np.ascontiguousarray(noise[sl], dtype=np.float64)),
                                    torch.from_numpy(cond[sl].astype(np.float64)), torch.from_numpy(energy[sl]))
                out[sl] = cells.numpy()
        return out


def load(path: str) -> ShowerGenerator:
    """The generator of the artefact at ``path`` (safetensors weights with their JSON sidecar)."""
    torch = extras.torch(needed_by="the CaloGAN generator")
    meta = read_metadata(path) or {}
    try:
        config = ModelConfig.from_dict(meta["model"])
        tensors, _ = safetensors_io.load(path)
        module = generator(config)
        module.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()})
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise ArtefactError(f"CaloGAN weights {path!r} cannot be loaded: {type(exc).__name__}: "
                            f"{str(exc).splitlines()[0]}; derive them again") from None
    return ShowerGenerator(module, config)
