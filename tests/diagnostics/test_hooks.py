"""The recorder against statistics computed by hand, hook removal, and vanishing gradients."""

import itertools

import pytest
import torch
from torch import nn

from course_lib.diagnostics import STATS, ActivationGradientRecorder, parameter_grad_norms


def relu_net(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)).double()


def norm(t):
    return torch.linalg.vector_norm(t).item()


def test_recorded_statistics_equal_hand_computed_ones():
    model = relu_net()
    x = torch.randn(16, 4, dtype=torch.float64)
    with ActivationGradientRecorder(model, modules=(nn.Linear, nn.ReLU)) as rec:
        out = model(x)
        out.pow(2).sum().backward()
    assert list(rec.layers) == ["0", "1", "2"]

    # The same forward pass by hand, keeping every intermediate's gradient.
    h = model[0](x)
    r = torch.relu(h)
    o = model[2](r)
    for t in (h, r, o):
        t.retain_grad()
    o.pow(2).sum().backward()
    for name, t in zip(["0", "1", "2"], [h, r, o], strict=True):
        s = rec.stats[name]
        values = t.detach()
        assert s["act_mean"] == [pytest.approx(values.mean().item(), rel=1e-12)]
        assert s["act_std"] == [pytest.approx(values.std(correction=0).item(), rel=1e-12)]
        assert s["act_frac_zero"] == [pytest.approx((values == 0).double().mean().item())]
        assert s["grad_output_norm"] == [pytest.approx(norm(t.grad), rel=1e-12)]
    assert 0.2 < rec.stats["1"]["act_frac_zero"][0] < 0.8  # ReLU kills about half
    assert rec.stats["0"]["act_frac_zero"][0] == 0.0


def test_weight_gradient_norms_equal_the_parameters_grads():
    model = relu_net(seed=1)
    x = torch.randn(16, 4, dtype=torch.float64)
    with ActivationGradientRecorder(model) as rec:
        model(x).pow(2).mean().backward()
    assert list(rec.layers) == ["0", "2"]
    for name in ("0", "2"):
        assert rec.stats[name]["weight_grad_norm"] == [
            pytest.approx(norm(model[int(name)].weight.grad), rel=1e-12)
        ]
    norms = parameter_grad_norms(model)
    assert set(norms) == {"0.weight", "0.bias", "2.weight", "2.bias"}
    assert norms["2.bias"] == pytest.approx(norm(model[2].bias.grad))
    assert rec.last() == {n: rec.stats[n]["weight_grad_norm"][-1] for n in ("0", "2")}


def test_weight_hook_sees_each_pass_not_the_accumulated_grad():
    model = relu_net(seed=2)
    x = torch.randn(8, 4, dtype=torch.float64)
    with ActivationGradientRecorder(model) as rec:
        for _ in range(3):  # gradient accumulation: .grad sums three equal gradients
            model(x).sum().backward()
    first = rec.stats["0"]["weight_grad_norm"]
    assert len(first) == 3
    assert first[0] == pytest.approx(first[2], rel=1e-12)
    assert norm(model[0].weight.grad) == pytest.approx(3 * first[0], rel=1e-12)
    assert all(len(v) == 3 for v in rec.stats["2"].values())


def test_hooks_are_removed_after_the_context_even_on_error():
    model = relu_net()
    x = torch.randn(4, 4, dtype=torch.float64)
    with pytest.raises(ZeroDivisionError), ActivationGradientRecorder(model) as rec:
        assert rec.attached
        model(x).sum().backward()
        raise ZeroDivisionError
    assert not rec.attached
    for module in model.modules():
        assert not module._forward_hooks
        for p in module.parameters(recurse=False):
            assert not p._backward_hooks
    before = {n: {k: list(v) for k, v in s.items()} for n, s in rec.stats.items()}
    model(x).sum().backward()
    assert rec.stats == before  # nothing recorded once removed
    rec.remove()  # idempotent


def test_no_grad_forward_records_activations_only_and_clear_forgets():
    model = relu_net()
    rec = ActivationGradientRecorder(model).attach()
    with pytest.raises(RuntimeError, match="already attached"):
        rec.attach()
    with torch.no_grad():
        model(torch.randn(4, 4, dtype=torch.float64))
    assert len(rec.stats["0"]["act_mean"]) == 1
    assert rec.stats["0"]["grad_output_norm"] == []
    assert rec.last("grad_output_norm") == {}
    rec.clear()
    assert all(v == [] for s in rec.stats.values() for v in s.values())
    rec.remove()
    with pytest.raises(KeyError, match="unknown statistic"):
        rec.last("act_max")
    assert set(STATS) == set(rec.stats["0"])


def test_select_layers_by_name():
    model = relu_net()
    rec = ActivationGradientRecorder(model, names=["2"])
    assert list(rec.layers) == ["2"]
    with pytest.raises(KeyError, match="no submodules named"):
        ActivationGradientRecorder(model, names=["2", "decoder"])


def test_inplace_activation_after_a_recorded_layer():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(inplace=True), nn.Linear(8, 1)).double()
    x = torch.randn(8, 4, dtype=torch.float64)
    with ActivationGradientRecorder(model) as rec:
        model(x).sum().backward()
    h = model[0](x)
    h.retain_grad()
    model[2](torch.relu(h)).sum().backward()
    assert rec.stats["0"]["grad_output_norm"] == [pytest.approx(norm(h.grad), rel=1e-12)]


def deep_mlp(activation, depth=10, width=32, he_init=False):
    torch.manual_seed(0)
    layers = []
    for _ in range(depth):
        layers += [nn.Linear(width, width), activation()]
    model = nn.Sequential(*layers, nn.Linear(width, 1))
    if he_init:
        for m in model:
            if isinstance(m, nn.Linear):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)
    return model


def first_to_last_ratio(model):
    x = torch.randn(64, 32, generator=torch.Generator().manual_seed(1))
    with ActivationGradientRecorder(model) as rec:
        model(x).pow(2).mean().backward()
    norms = list(rec.last("weight_grad_norm").values())
    return norms, norms[0] / norms[-1]


def test_vanishing_gradients_in_a_deep_sigmoid_network():
    norms, ratio = first_to_last_ratio(deep_mlp(nn.Sigmoid))
    # sigma' <= 1/4 at every layer: the gradient shrinks geometrically towards the input.
    assert ratio < 1e-6
    assert all(a < b for a, b in itertools.pairwise(norms))
    # The contrast the chapter draws: ReLU with He initialisation keeps the gradients' scale.
    _, relu_ratio = first_to_last_ratio(deep_mlp(nn.ReLU, he_init=True))
    assert relu_ratio > 1e-2
