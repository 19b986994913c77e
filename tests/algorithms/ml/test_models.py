"""The pure torch models: output shapes, set networks invariant under constituent permutations and padding."""
import math
import pytest

torch = pytest.importorskip("torch")

from hepreco.algorithms.ml import models  # noqa: E402

SET_MODELS = [{"type": "efn", "n_angular": 2, "n_outputs": 3, "phi": [16], "latent": 8, "f": [16]},
              {"type": "pfn", "n_features": 3, "n_outputs": 3, "phi": [16], "latent": 8, "f": [16]},
              {"type": "particlenet", "n_features": 3, "n_outputs": 3, "k": 3, "edge": [[8, 8], [16]], "f": [16]}]


def _set_batch(n=5, c=7, f=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, c, f, generator=g)
    n_real = torch.tensor([7, 3, 5, 1, 6])[:n]
    mask = (torch.arange(c)[None, :] < n_real[:, None]).float()
    return x * mask[..., None], mask


@pytest.mark.parametrize("config", SET_MODELS, ids=lambda c: c["type"])
def test_set_networks_are_invariant_under_permutations_of_the_constituents(config):
    torch.manual_seed(0)
    model = models.build(config).eval()
    x, mask = _set_batch()
    perm = torch.randperm(x.shape[1], generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        out = model(x, mask)
        permuted = model(x[:, perm], mask[:, perm])
    torch.testing.assert_close(permuted, out, rtol=1e-5, atol=1e-6)
    assert out.shape == (5, 3)


@pytest.mark.parametrize("config", SET_MODELS, ids=lambda c: c["type"])
def test_set_networks_ignore_what_lies_in_the_padding(config):
    torch.manual_seed(0)
    model = models.build(config).eval()
    x, mask = _set_batch()
    junk = x + 10.0 * (1 - mask)[..., None]  # garbage in padded slots
    with torch.no_grad():
        torch.testing.assert_close(model(junk, mask), model(x, mask))
        # a padded copy with more slots gives the same output
        wider = torch.cat([x, torch.zeros(5, 4, x.shape[2])], dim=1)
        torch.testing.assert_close(model(wider, torch.cat([mask, torch.zeros(5, 4)], dim=1)), model(x, mask))


def test_efn_is_linear_in_the_energy_fractions_inside_the_sum():
    # IRC safety: splitting a constituent into two collinear halves changes nothing
    torch.manual_seed(0)
    model = models.build(SET_MODELS[0]).eval()
    x, mask = _set_batch(n=1, c=7, f=3)
    split = torch.cat([x, x[:, :1]], dim=1)
    split[:, 0, 0] /= 2
    split[:, -1, 0] /= 2
    with torch.no_grad():
        torch.testing.assert_close(model(split, torch.cat([mask, mask[:, :1]], dim=1)), model(x, mask))


@pytest.mark.parametrize("config", SET_MODELS, ids=lambda c: c["type"])
def test_set_networks_with_globals_stay_invariant_and_read_the_globals(config):
    torch.manual_seed(0)
    model = models.build({**config, "n_globals": 2}).eval()
    x, mask = _set_batch()
    g = torch.rand(5, 2, generator=torch.Generator().manual_seed(1))
    perm = torch.randperm(x.shape[1], generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        out = model(x, mask, g)
        torch.testing.assert_close(model(x[:, perm], mask[:, perm], g), out, rtol=1e-5, atol=1e-6)
        other = model(x, mask, g + 1.0)
    assert out.shape == (5, 3)
    assert (other - out).abs().max() > 1e-3  # the globals reach the head


def test_a_cnn_with_globals_reads_them_after_the_convolutions():
    torch.manual_seed(0)
    model = models.build({"type": "cnn", "image_shape": [25, 25], "n_outputs": 2, "n_globals": 1}).eval()
    image = torch.rand(4, 25, 25)
    with torch.no_grad():
        out = model(image, torch.zeros(4, 1))
        assert out.shape == (4, 2)
        assert (model(image, torch.ones(4, 1)) - out).abs().max() > 1e-4
    assert model.head[0].in_features == 16 * 6 * 6 + 1


@pytest.mark.parametrize("config,inputs", [
    ({"type": "mlp", "n_inputs": 4, "n_outputs": 2, "hidden": [8]}, [(6, 4)]),
    ({"type": "cnn", "image_shape": [25, 25], "n_outputs": 4}, [(6, 25, 25)]),
    ({"type": "cellnet", "layer_shapes": [[3, 7], [5, 5]], "n_outputs": 1}, [(6, 3, 7), (6, 5, 5)]),
    ({"type": "cellnet", "layer_shapes": [[3, 7], [5, 5]], "n_outputs": 1, "layer_sums": True},
     [(6, 3, 7), (6, 5, 5)]),
], ids=["mlp", "cnn", "cellnet", "cellnet-layer-sums"])
def test_models_map_a_batch_to_one_row_of_outputs_per_object(config, inputs):
    model = models.build(config)
    out = model(*(torch.rand(*s) for s in inputs))
    assert out.shape == (6, config["n_outputs"])
    assert models.n_parameters(model) * 4 < 2e6  # small enough to ship


def test_particlenet_neighbours_are_the_nearest_real_constituents():
    # one object, 4 real points on a line at 0, 1, 3, 10 and a padded one at 0.5: with k = 1 and an edge
    # network that passes x_j - x_i through, each point sees its nearest real neighbour
    from hepreco.algorithms.ml.models import _EdgeConv

    block = _EdgeConv(1, [1])
    with torch.no_grad():
        block.h[0].weight[:] = torch.tensor([[0.0, 1.0]])   # h(x_i, x_j - x_i) = relu(x_j - x_i)
        block.h[0].bias.zero_()
        block.shortcut.weight.zero_()
        block.shortcut.bias[:] = 5.0                          # keeps relu(mean + shortcut) linear
        x = torch.tensor([[[0.0], [1.0], [3.0], [10.0], [0.5]]])
        mask = torch.tensor([[1.0, 1.0, 1.0, 1.0, 0.0]])
        out = block(x, x, mask, k=1)[0, :, 0] - 5.0
    # nearest of 0 is 1 (+1), of 1 is 0 (relu(-1) = 0), of 3 is 1 (0), of 10 is 3 (0); padded: masked
    torch.testing.assert_close(out, torch.tensor([1.0, 0.0, 0.0, 0.0, -5.0]))


def test_unknown_model_type_is_refused_with_the_known_types():
    with pytest.raises(ValueError, match=r"unknown model type 'gnn'; known: mlp, cnn, efn, pfn, particlenet, "
                                         r"cellnet"):
        models.build({"type": "gnn"})


def test_an_image_too_small_for_its_pooling_steps_is_refused():
    with pytest.raises(ValueError, match=r"too small for 3 pooling steps"):
        models.build({"type": "cnn", "image_shape": [4, 4], "n_outputs": 2, "channels": [4, 4, 4]})


def test_cellnet_layer_sums_feed_the_log_of_each_window_sum_to_the_head():
    model = models.build({"type": "cellnet", "layer_shapes": [[2, 2], [1, 3]], "n_outputs": 1, "channels": [1],
                          "dense": [], "layer_sums": True})
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        model.head[-1].weight[0, -2:] = torch.tensor([1.0, 10.0])  # only the two sums reach the output
    a, b = torch.tensor([[[1.0, 2.0], [0.0, 1.0]]]), torch.tensor([[[-5.0, 1.0, 0.0]]])
    assert model(a, b).item() == pytest.approx(math.log1p(4.0))  # the negative sum is clipped at 0
