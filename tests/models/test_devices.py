"""Every model runs forward and backward on every device present (CPU; CUDA where there is one)
and agrees with itself on the CPU in eval mode (loosely: cuDNN convolutions may use TF32)."""

import copy

import pytest
import torch

from course_lib.models import build_model

CASES = {
    "mlp": ({"in_features": 784, "out_features": 10, "norm": "batch"}, (4, 1, 28, 28)),
    "cnn": ({"in_channels": 3, "image_size": 32}, (4, 3, 32, 32)),
    "resnet18": ({"width": 8}, (4, 1, 28, 28)),
    "transformer": ({"vocab_size": 30, "pooling": "max"}, (4, 16)),
}


@pytest.mark.parametrize("name", CASES)
def test_forward_backward_on_device(name: str, device: str) -> None:
    kwargs, shape = CASES[name]
    torch.manual_seed(0)
    model = build_model(name, **kwargs)
    if name == "transformer":
        x = torch.randint(1, 30, shape)
        x[1, 5:] = 0  # some padding
    else:
        x = torch.randn(shape)
    on_device = copy.deepcopy(model).to(device)
    with torch.no_grad():  # eval first: a train-mode pass would move the running statistics
        expected = model.eval()(x)
        got = on_device.eval()(x.to(device)).cpu()
    torch.testing.assert_close(got, expected, rtol=1e-2, atol=1e-2)
    logits = on_device.train()(x.to(device))
    assert logits.shape == (shape[0], 10 if name != "transformer" else 2)
    logits.sum().backward()
    assert all(p.grad is not None for p in on_device.parameters())
