"""Pure ``torch.nn`` modules of the ML taggers and of the calorimeter networks.

Every model is built from a plain dict, ``{"type": "mlp", <constructor arguments>}``
(:func:`build`), which is what a model artefact stores, so that weights are
loaded into a module built from its own metadata and nothing is unpickled.
A model takes the tensors of one input kind (see :mod:`hepreco.algorithms.ml.data`)
and returns ``(batch, n_outputs)`` logits (classification) or values (regression):

===============  =============================  =============================================================
type             class                          inputs
===============  =============================  =============================================================
``mlp``          :class:`MLP`                   ``x (B, F)``: standardised high-level features
``cnn``          :class:`JetImageCNN`           ``image (B, H, W)``: preprocessed jet image
``efn``          :class:`EnergyFlowNetwork`     ``x (B, C, 1 + A), mask (B, C)``: pT fraction z, angles
``pfn``          :class:`ParticleFlowNetwork`   ``x (B, C, F), mask (B, C)``: constituent features
``particlenet``  :class:`ParticleNet`           ``x (B, C, F), mask (B, C)``: angles first, then other features
``cellnet``      :class:`CellNet`               ``layer_1 (B, h1, w1), layer_2 ...``: cell energies per layer
===============  =============================  =============================================================

The image and set networks take ``n_globals`` per-object scalars (the jet's pT)
as a last input ``g (B, G)``, concatenated to what their dense head reads (the
flattened convolutions, the pooled constituents).

The set networks sum over constituents (Deep Sets), so they are invariant
under permutations of the constituents by construction; padded entries are
masked out.  ParticleNet (EdgeConv on k-nearest-neighbour graphs) pools with a
mean over the real constituents, invariant as well.  This module imports torch when it is imported: import it only
where torch is needed (training, inference), never from the default chain.
"""
from __future__ import annotations

from hepreco.framework import extras

torch = extras.torch(needed_by="the ML models (hepreco.algorithms.ml)")
nn = torch.nn


def _with(x, g):
    """``x`` with the per-object globals ``g`` (if any) appended to its last axis."""
    return x if g is None else torch.cat([x, g], dim=-1)


def _dense(sizes: list[int], dropout: float = 0.0, last_activation: bool = True) -> nn.Sequential:
    """Linear layers ``sizes[0] -> sizes[1] -> ...`` with ReLU (and dropout) between them."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if last_activation or i < len(sizes) - 2:
            layers.append(nn.ReLU())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


class MLP(nn.Module):
    """Fully connected network on high-level features: ``n_inputs -> hidden... -> n_outputs``."""

    def __init__(self, n_inputs: int, n_outputs: int, hidden: list[int] = (64, 64), dropout: float = 0.0):
        super().__init__()
        self.net = _dense([int(n_inputs), *map(int, hidden), int(n_outputs)], dropout, last_activation=False)

    def forward(self, x):
        return self.net(x)


class JetImageCNN(nn.Module):
    """Convolutions (3 x 3, ReLU, 2 x 2 max pooling) on a one-channel image, then a dense head."""

    def __init__(self, image_shape: list[int], n_outputs: int, channels: list[int] = (8, 16),
                 dense: list[int] = (32,), dropout: float = 0.0, n_globals: int = 0):
        super().__init__()
        h, w = map(int, image_shape)
        convs: list[nn.Module] = []
        before = 1
        for c in map(int, channels):
            convs += [nn.Conv2d(before, c, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
            before, h, w = c, h // 2, w // 2
        if h < 1 or w < 1:
            raise ValueError(f"image {list(image_shape)} is too small for {len(channels)} pooling steps")
        self.convs = nn.Sequential(*convs)
        self.head = _dense([before * h * w + int(n_globals), *map(int, dense), int(n_outputs)], dropout,
                           last_activation=False)

    def forward(self, image, g=None):
        return self.head(_with(self.convs(image.unsqueeze(1)).flatten(1), g))


class _DeepSet(nn.Module):
    """``F(sum_i w_i Phi(x_i))`` over the constituents of each object (padded entries have weight 0)."""

    def __init__(self, n_phi_inputs: int, n_outputs: int, phi: list[int], latent: int, f: list[int],
                 dropout: float, n_globals: int = 0):
        super().__init__()
        self.phi = _dense([int(n_phi_inputs), *map(int, phi), int(latent)])
        self.f = _dense([int(latent) + int(n_globals), *map(int, f), int(n_outputs)], dropout, last_activation=False)

    def pool(self, phi_inputs, weights):
        return (self.phi(phi_inputs) * weights.unsqueeze(-1)).sum(dim=1)


class EnergyFlowNetwork(_DeepSet):
    """Energy Flow Network: ``F(sum_i z_i Phi(deta_i, dphi_i))``, infrared and collinear safe.

    ``x[..., 0]`` is the energy (pT) fraction ``z_i``, ``x[..., 1:]`` the ``n_angular``
    angular coordinates given to Phi.
    """

    def __init__(self, n_angular: int, n_outputs: int, phi: list[int] = (64, 64), latent: int = 32,
                 f: list[int] = (64,), dropout: float = 0.0, n_globals: int = 0):
        super().__init__(n_angular, n_outputs, phi, latent, f, dropout, n_globals)

    def forward(self, x, mask, g=None):
        return self.f(_with(self.pool(x[..., 1:], x[..., 0] * mask), g))


class ParticleFlowNetwork(_DeepSet):
    """Particle Flow Network: ``F(sum_i Phi(x_i))`` over all features of the real constituents."""

    def __init__(self, n_features: int, n_outputs: int, phi: list[int] = (64, 64), latent: int = 32,
                 f: list[int] = (64,), dropout: float = 0.0, n_globals: int = 0):
        super().__init__(n_features, n_outputs, phi, latent, f, dropout, n_globals)

    def forward(self, x, mask, g=None):
        return self.f(_with(self.pool(x, mask), g))


class _EdgeConv(nn.Module):
    """EdgeConv: for each point, the mean over its k nearest neighbours j of h(x_i, x_j - x_i), plus a shortcut."""

    def __init__(self, n_in: int, widths: list[int]):
        super().__init__()
        self.h = _dense([2 * int(n_in), *map(int, widths)])
        self.shortcut = nn.Linear(int(n_in), int(widths[-1]))

    def forward(self, points, features, mask, k: int):
        b, c, f = features.shape
        # squared distances |p_i|^2 + |p_j|^2 - 2 p_i.p_j; padded points are never neighbours, nor is a point
        # its own neighbour
        sq = (points * points).sum(-1)
        d = sq[:, :, None] + sq[:, None, :] - 2 * torch.bmm(points, points.transpose(1, 2))
        invalid = (mask[:, None, :] == 0) | torch.eye(c, dtype=torch.bool, device=points.device)[None]
        d = d.masked_fill(invalid, float("inf"))
        k = min(k, c - 1)
        dist, idx = d.topk(k, dim=-1, largest=False)  # (B, C, k)
        valid = torch.isfinite(dist).to(features.dtype)
        # the first layer of h on (x_i, x_j - x_i) is (W_a - W_b) x_i + W_b x_j + bias: project the points once,
        # then gather the neighbours' projections
        first = self.h[0]
        w_a, w_b = first.weight[:, :f], first.weight[:, f:]
        own = features @ (w_a - w_b).T + first.bias
        other = (features @ w_b.T).reshape(b * c, -1)
        rows = (idx + torch.arange(b, device=idx.device)[:, None, None] * c).reshape(-1)
        pre = own[:, :, None, :] + other[rows].reshape(b, c, k, -1)
        edges = self.h[1:](pre) * valid[..., None]
        mean = edges.sum(2) / valid.sum(2, keepdim=True).clamp_min(1.0)
        return torch.relu(mean + self.shortcut(features)) * mask[..., None]


class ParticleNet(nn.Module):
    """A small ParticleNet-like network: EdgeConv blocks on a dynamic k-nearest-neighbour graph, then a
    mean over the real constituents and a dense head.

    The first ``n_coords`` input features (the angles ``deta``, ``dphi``) are the
    coordinates of the first graph; later blocks use the learnt features.
    Padded constituents are neither points nor neighbours, so the output does
    not depend on the order of the constituents (up to ties in distance).
    """

    def __init__(self, n_features: int, n_outputs: int, n_coords: int = 2, k: int = 8,
                 edge: list[list[int]] = ((32, 32), (64, 64)), f: list[int] = (64,), dropout: float = 0.0,
                 n_globals: int = 0):
        super().__init__()
        self.n_coords, self.k = int(n_coords), int(k)
        self.blocks = nn.ModuleList()
        before = int(n_features)
        for widths in edge:
            self.blocks.append(_EdgeConv(before, list(widths)))
            before = int(widths[-1])
        self.f = _dense([before + int(n_globals), *map(int, f), int(n_outputs)], dropout, last_activation=False)

    def forward(self, x, mask, g=None):
        points, features = x[..., :self.n_coords], x
        for block in self.blocks:
            features = block(points, features, mask, self.k)
            points = features
        pooled = (features * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp_min(1.0)
        return self.f(_with(pooled, g))


class CellNet(nn.Module):
    """One small CNN branch per calorimeter layer window, concatenated, then a dense head.

    Each branch is ``conv 3 x 3 (padding 1), ReLU`` per entry of ``channels``,
    flattened, so windows of any size (a 3 x 7 strip window too) fit.  With
    ``n_outputs = 1`` it regresses a value (energy), otherwise it classifies.
    ``layer_sums`` adds ``log(1 + sum)`` of each (scaled) window, clipped at 0,
    to the head's inputs: a scale-free view of the longitudinal profile over
    the energy range that the linear branches would have to learn.
    """

    def __init__(self, layer_shapes: list[list[int]], n_outputs: int, channels: list[int] = (4,),
                 dense: list[int] = (64, 32), dropout: float = 0.0, layer_sums: bool = False):
        super().__init__()
        self.layer_sums = bool(layer_sums)
        self.branches = nn.ModuleList()
        width = 0
        for h, w in layer_shapes:
            convs: list[nn.Module] = []
            before = 1
            for c in map(int, channels):
                convs += [nn.Conv2d(before, c, 3, padding=1), nn.ReLU()]
                before = c
            self.branches.append(nn.Sequential(*convs))
            width += before * int(h) * int(w)
        if self.layer_sums:
            width += len(layer_shapes)
        self.head = _dense([width, *map(int, dense), int(n_outputs)], dropout, last_activation=False)

    def forward(self, *layers):
        flat = [branch(x.unsqueeze(1)).flatten(1) for branch, x in zip(self.branches, layers)]
        if self.layer_sums:
            flat.append(torch.log1p(torch.stack([x.flatten(1).sum(1) for x in layers], dim=1).clamp_min(0.0)))
        return self.head(torch.cat(flat, dim=1))


#: model type in configurations -> class
MODELS = {"mlp": MLP, "cnn": JetImageCNN, "efn": EnergyFlowNetwork, "pfn": ParticleFlowNetwork,
          "particlenet": ParticleNet, "cellnet": CellNet}


def build(config: dict) -> nn.Module:
    """The module described by ``{"type": ..., <constructor arguments>}`` (weights freshly initialised)."""
    args = dict(config)
    kind = args.pop("type", None)
    if kind not in MODELS:
        raise ValueError(f"unknown model type {kind!r}; known: {', '.join(MODELS)}")
    return MODELS[kind](**args)


def n_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
