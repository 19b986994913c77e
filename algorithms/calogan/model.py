"""The conditional shower generator and its critic: pure ``torch.nn`` modules (torch imported lazily).

Generator (CaloGAN's split into per-layer image generators, conditioned on
the particle's energy and type)::

    condition c = (log10(E / GeV) / 2, one-hot particle type)
    h = MLP([z, c])                                  shared trunk
    for each layer i: image_i = softmax(Linear_i(g_type h, c))   normalised image (sums to 1)
                      E_i     = E * exp(Linear_E(h, c)_i)  layer energy [GeV]
    cells = concat_i(E_i * image_i)  with cells below ``min_fraction`` of E_i set to 0 (sparsity)

so every shower has positive layer energies, images that sum to them, and
the lateral shape and the longitudinal sharing are generated separately.
``g_type`` (a learnt gate per particle type, 0 at the start) says how much
the noise moves the lateral shapes: FastCaloSim's electromagnetic showers
have one lateral shape, pion showers a fluctuating one.
The critic sees the shower normalised by the particle's energy (cells / E),
the log layer fractions and the condition.

Cells are in the order of the ``calogan`` geometry (layer, eta, phi), GeV.
"""
from __future__ import annotations

import functools
from dataclasses import asdict, dataclass

import numpy as np

from hepreco.framework import extras

#: cells per layer of the calogan geometry (3 x 96, 12 x 12, 12 x 6)
LAYER_CELLS = (288, 144, 72)
N_CELLS = sum(LAYER_CELLS)


@dataclass(frozen=True)
class ModelConfig:
    """Sizes of the generator (stored in the artefact's metadata)."""

    particles: tuple = (-11, 22, 211)  #: PDG ids the generator was trained for (one-hot order)
    latent: int = 16                   #: latent dimension
    hidden: int = 128                  #: width of the shared trunk
    min_fraction: float = 1e-5         #: cells below this fraction of their layer's energy are 0

    def as_dict(self) -> dict:
        out = asdict(self)
        out["particles"] = list(self.particles)
        return out

    @classmethod
    def from_dict(cls, values: dict) -> "ModelConfig":
        values = dict(values)
        values["particles"] = tuple(int(p) for p in values.get("particles", cls.particles))
        return cls(**values)


def condition(energy: np.ndarray, type_index: np.ndarray, n_types: int) -> np.ndarray:
    """The conditioning vector per shower: (log10(E / GeV) / 2, one-hot type), float32."""
    out = np.zeros((len(energy), 1 + n_types), dtype=np.float32)
    out[:, 0] = np.log10(np.maximum(np.asarray(energy, dtype=np.float64), 1e-3)) / 2.0
    out[np.arange(len(energy)), 1 + np.asarray(type_index, dtype=np.int64)] = 1.0
    return out


@functools.lru_cache(maxsize=None)
def _classes():
    torch = extras.torch(needed_by="the CaloGAN generator")
    nn = torch.nn

    class Generator(nn.Module):
        """Energy- and type-conditioned shower generator (per-layer image heads)."""

        def __init__(self, config: ModelConfig):
            super().__init__()
            self.config = config
            n_cond = 1 + len(config.particles)
            h = config.hidden
            self.trunk = nn.Sequential(nn.Linear(config.latent + n_cond, h), nn.LeakyReLU(0.2),
                                       nn.Linear(h, h), nn.LeakyReLU(0.2))
            self.images = nn.ModuleList(nn.Linear(h + n_cond, n) for n in LAYER_CELLS)
            self.energies = nn.Linear(h + n_cond, len(LAYER_CELLS))
            self.register_buffer("energy_bias", torch.zeros(len(LAYER_CELLS)))
            # how much the latent noise moves the lateral shapes, per particle type (0 at the start: the average
            # shape; training opens it where the reference's shapes fluctuate, as for pions)
            self.shape_gate = nn.Parameter(torch.zeros(len(config.particles)))

        def forward(self, z, cond, energy):
            """Cells [GeV] (N, 504) for latent ``z`` (N, latent), condition (N, 1 + types), energy [GeV] (N,)."""
            trunk = self.trunk(torch.cat([z, cond], 1))
            h = torch.cat([trunk, cond], 1)
            log_frac = (self.energies(h) + self.energy_bias).clamp(-12.0, 1.0)
            layer_e = energy[:, None] * torch.exp(log_frac)
            gated = torch.cat([trunk * (cond[:, 1:] @ self.shape_gate)[:, None], cond], 1)
            parts = []
            for i, head in enumerate(self.images):
                image = torch.softmax(head(gated), 1)
                image = image * (image >= self.config.min_fraction)
                parts.append(image * layer_e[:, i:i + 1])
            return torch.cat(parts, 1)

    class Critic(nn.Module):
        """Tells reference from generated showers, given the condition."""

        def __init__(self, config: ModelConfig, hidden: int = 128):
            super().__init__()
            n_cond = 1 + len(config.particles)
            self.net = nn.Sequential(nn.Linear(N_CELLS + len(LAYER_CELLS) + n_cond, hidden), nn.LeakyReLU(0.2),
                                     nn.Linear(hidden, hidden // 2), nn.LeakyReLU(0.2), nn.Linear(hidden // 2, 1))

        def forward(self, cells, cond, energy):
            return self.net(critic_features(torch, cells, cond, energy)).squeeze(1)

    return Generator, Critic


def critic_features(torch, cells, cond, energy):
    """What the critic sees: cells / E, log10 of the layer fractions (floored at 1e-6), the condition."""
    norm = cells / energy[:, None]
    bounds = np.cumsum((0,) + LAYER_CELLS)
    fracs = torch.stack([norm[:, a:b].sum(1) for a, b in zip(bounds[:-1], bounds[1:])], 1)
    return torch.cat([norm, torch.log10(fracs.clamp_min(1e-6)), cond], 1)


def generator(config: ModelConfig):
    """A new :class:`Generator` (torch module) of ``config``."""
    return _classes()[0](config)


def critic(config: ModelConfig, hidden: int = 128):
    """A new critic (torch module) for ``config``'s generator."""
    return _classes()[1](config, hidden)


def type_index(pdg_id: np.ndarray, particles: tuple) -> np.ndarray:
    """Index of each particle in ``particles`` (charge-conjugates share the entry: e- uses e+, pi- pi+); -1 if none."""
    table = {abs(p): i for i, p in enumerate(particles)}
    return np.array([table.get(abs(int(p)), -1) for p in np.asarray(pdg_id).ravel()], dtype=np.int64)
