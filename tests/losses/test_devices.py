"""Every torch-named loss on every device the machine has (CUDA where present), against torch.

The CPU grids in the other files pin the semantics down; this file checks that nothing in our
implementations assumes the CPU (a tensor created without ``device=``, a CPU-only op).
"""

import pytest
import torch
import torch.nn.functional as F

from course_lib import losses


def _inputs(device):
    gen = torch.Generator().manual_seed(0)

    def randn(*shape):
        return torch.randn(*shape, generator=gen, dtype=torch.float64).to(device)

    logits = randn(6, 4).requires_grad_(True)
    classes = torch.tensor([0, 3, 1, 2, 2, 0], device=device)
    x = randn(6, 4).requires_grad_(True)
    y = randn(6, 4)
    prob = torch.sigmoid(randn(6, 4)).detach().requires_grad_(True)
    bits = (randn(6, 4) > 0).to(torch.float64)
    weight = torch.rand(4, generator=gen, dtype=torch.float64).to(device) + 0.5
    a, p, n = (randn(6, 3).requires_grad_(True) for _ in range(3))
    return {
        "mse_loss": ((x, y), {}),
        "l1_loss": ((x, y), {}),
        "huber_loss": ((x, y), {"delta": 0.7}),
        "smooth_l1_loss": ((x, y), {"beta": 0.7}),
        "binary_cross_entropy": ((prob, bits), {}),
        "binary_cross_entropy_with_logits": ((logits, bits), {"pos_weight": weight}),
        "cross_entropy": (
            (logits, classes),
            {"weight": weight, "label_smoothing": 0.1, "ignore_index": 2},
        ),
        "multi_margin_loss": ((logits, classes), {"margin": 0.5, "weight": weight}),
        "triplet_margin_loss": ((a, p, n), {"margin": 0.3, "swap": True}),
    }


@pytest.mark.parametrize("name", list(_inputs("cpu")))
def test_loss_matches_torch_on_device(name, device):
    args, kwargs = _inputs(device)[name]
    ours = getattr(losses, name)(*args, **kwargs)
    ref = getattr(F, name)(*args, **kwargs)
    assert ours.device.type == torch.device(device).type
    torch.testing.assert_close(ours, ref, rtol=1e-10, atol=1e-12)
    leaves = [t for t in args if t.requires_grad]
    for g_ours, g_ref in zip(
        torch.autograd.grad(ours, leaves), torch.autograd.grad(ref, leaves), strict=True
    ):
        torch.testing.assert_close(g_ours, g_ref, rtol=1e-10, atol=1e-12)


def test_focal_and_metric_losses_stay_on_device(device):
    args, _ = _inputs(device)["binary_cross_entropy_with_logits"]
    logits, bits = args
    assert losses.sigmoid_focal_loss(logits, bits).device.type == torch.device(device).type
    gamma0 = losses.sigmoid_focal_loss(logits, bits, alpha=-1, gamma=0, reduction="mean")
    torch.testing.assert_close(gamma0, F.binary_cross_entropy_with_logits(logits, bits))
    emb = logits.detach()
    labels = torch.tensor([0, 0, 1, 1, 2, 2], device=device)
    for mining in ("all", "hard", "semi-hard"):
        loss = losses.batch_triplet_loss(emb, labels, margin=0.5, mining=mining)
        assert loss.device.type == torch.device(device).type and torch.isfinite(loss)
