"""Every diagnostic on every available device (CPU here; CUDA too where present)."""

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from course_lib.diagnostics import (
    ActivationGradientRecorder,
    functional_loss,
    hessian_top_eigenvalues,
    hessian_trace,
    input_jacobian,
    loss_landscape_2d,
)
from tests.diagnostics.helpers import small_mlp


def test_diagnostics_follow_the_model_device(device):
    model = small_mlp(seed=0).to(device)
    x = torch.randn(16, 6, dtype=torch.float64, device=device)
    y = torch.randn(16, 3, dtype=torch.float64, device=device)

    def loss_of(m):
        return F.mse_loss(m(x), y)

    loss_fn, params = functional_loss(model, loss_of)
    cpu_model = small_mlp(seed=0)  # the same weights, on the CPU: the reference
    cpu_fn, cpu_params = functional_loss(cpu_model, lambda m: F.mse_loss(m(x.cpu()), y.cpu()))
    top = hessian_top_eigenvalues(loss_fn, params, k=2, iters=80)
    assert top.device.type == torch.device(device).type
    reference = hessian_top_eigenvalues(cpu_fn, cpu_params, k=2, iters=80)
    torch.testing.assert_close(top.cpu(), reference, rtol=1e-8, atol=1e-12)
    assert np.isfinite(hessian_trace(loss_fn, params, samples=4).estimate)

    assert input_jacobian(model, x[:2]).device.type == torch.device(device).type
    state = {k: v.clone() for k, v in model.state_dict().items()}
    grid = loss_landscape_2d(model, loss_of, alphas=[-0.5, 0.0, 0.5])
    assert grid.losses[1, 1] == np.float64(loss_of(model).item())
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())

    with ActivationGradientRecorder(model) as rec:
        loss_of(model).backward()
    assert len(rec.last("weight_grad_norm")) == 3


def test_recorder_with_low_precision_activations():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1)).to(torch.bfloat16)
    x = torch.randn(32, 4, dtype=torch.bfloat16)
    with ActivationGradientRecorder(model, modules=(nn.Linear, nn.ReLU)) as rec:
        model(x).float().sum().backward()
    h = model[0](x).float()
    assert rec.stats["0"]["act_mean"][0] == h.mean().item()  # summed in float32
    assert all(np.isfinite(v) for s in rec.stats.values() for vs in s.values() for v in vs)
