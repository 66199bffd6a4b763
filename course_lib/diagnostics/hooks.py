r"""Per-layer activation and gradient statistics, recorded by forward and backward hooks.

The picture of vanishing and exploding gradients: by backpropagation the gradient reaching
layer :math:`\ell` is :math:`\delta_\ell = J_{\ell+1}^\top \cdots J_L^\top \delta_L`, a product
of layer Jacobians. With saturating activations (sigmoid: :math:`\sigma' \le 1/4`) or badly
scaled weights each factor shrinks or grows the gradient, so the first layers of a deep network
get gradients orders of magnitude smaller (or larger) than the last. The activations tell the
same story forwards: their spread collapses, saturates, or ReLU units die (fraction zero).

:class:`ActivationGradientRecorder` attaches hooks to chosen layers and records, for every
forward and backward pass:

===================== ==============================================================
``act_mean``          mean of the layer's output over all its entries
``act_std``           standard deviation of the output (population: divides by N)
``act_frac_zero``     fraction of output entries exactly zero (dead ReLU units)
``grad_output_norm``  Euclidean norm of :math:`\partial L / \partial \text{output}`
``weight_grad_norm``  Euclidean norm of :math:`\partial L / \partial W` for this pass
===================== ==============================================================

The output of ``nn.Linear`` is the pre-activation; add ``nn.ReLU`` (or any activation module)
to ``modules`` to record what the activation function emits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle

STATS: tuple[str, ...] = (
    "act_mean",
    "act_std",
    "act_frac_zero",
    "grad_output_norm",
    "weight_grad_norm",
)


def _upcast(t: torch.Tensor) -> torch.Tensor:
    # float16/bfloat16 sums lose digits; float32 is enough and exists on every device
    # (float64 does not on MPS).
    t = t.detach()
    return t.float() if t.is_floating_point() and t.element_size() < 4 else t


def _first_tensor(output: Any) -> torch.Tensor | None:
    # Modules such as nn.LSTM or attention return tuples; their first element is the output.
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, (tuple, list)) and output and isinstance(output[0], torch.Tensor):
        return output[0]
    return None


class ActivationGradientRecorder:
    """Records activation and gradient statistics of a model's layers, per pass.

    Use it as a context manager; the hooks are removed on exit, even after an exception::

        with ActivationGradientRecorder(model) as rec:
            loss_fn(model(x), y).backward()
        rec.stats["0"]["weight_grad_norm"]  # one float per backward pass
        rec.last("weight_grad_norm")         # {layer name: latest value}

    Every statistic is a Python list with one entry per call of the layer (forward statistics)
    or per backward pass through it (gradient statistics); a layer used twice in one forward
    pass appends twice. Forward passes under ``torch.no_grad()`` record activations only.

    Attributes:
        layers: the recorded modules by qualified name (``model.named_modules()`` order, i.e.
            from input to output for sequential models).
        stats: ``{layer name: {statistic: [values]}}`` with the statistics in :data:`STATS`.
    """

    def __init__(
        self,
        model: nn.Module,
        modules: tuple[type[nn.Module], ...] = (nn.Linear, nn.Conv2d),
        *,
        names: Iterable[str] | None = None,
    ) -> None:
        """Choose the layers to record.

        Args:
            model: the network.
            modules: record every submodule that is an instance of one of these types.
            names: if given, record only the submodules with these qualified names (and
                ``modules`` is ignored).
        """
        wanted = None if names is None else set(names)
        self.layers: dict[str, nn.Module] = {}
        for name, module in model.named_modules():
            chosen = name in wanted if wanted is not None else isinstance(module, modules)
            if chosen:
                self.layers[name or type(model).__name__] = module
        if wanted is not None and len(self.layers) != len(wanted):
            missing = wanted - {n for n, _ in model.named_modules()}
            raise KeyError(f"no submodules named {sorted(missing)}")
        self.stats: dict[str, dict[str, list[float]]] = {}
        self.clear()
        self._handles: list[RemovableHandle] = []

    # --- attaching and removing -------------------------------------------------------------

    @property
    def attached(self) -> bool:
        """Whether the hooks are currently installed."""
        return bool(self._handles)

    def attach(self) -> ActivationGradientRecorder:
        """Install the hooks (done by ``with``); returns ``self``."""
        if self._handles:
            raise RuntimeError("the recorder is already attached")
        for name, module in self.layers.items():
            self._handles.append(module.register_forward_hook(self._forward_hook(name)))
            weight = getattr(module, "weight", None)
            if isinstance(weight, torch.Tensor) and weight.requires_grad:
                # A hook on the parameter sees the gradient of this backward pass alone, not the
                # sum accumulated in .grad, so gradient accumulation does not blur the record.
                self._handles.append(weight.register_hook(self._weight_hook(name)))
        return self

    def remove(self) -> None:
        """Remove every hook; the model behaves exactly as before. Safe to call twice."""
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def clear(self) -> None:
        """Forget everything recorded so far (the hooks stay as they are)."""
        self.stats = {name: {key: [] for key in STATS} for name in self.layers}

    def __enter__(self) -> ActivationGradientRecorder:
        return self.attach()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.remove()

    # --- reading ----------------------------------------------------------------------------

    def last(self, stat: str = "weight_grad_norm") -> dict[str, float]:
        """The latest value of one statistic for every layer that has one, input to output."""
        if stat not in STATS:
            raise KeyError(f"unknown statistic {stat!r}; choose from {STATS}")
        return {name: s[stat][-1] for name, s in self.stats.items() if s[stat]}

    # --- the hooks --------------------------------------------------------------------------

    def _forward_hook(self, name: str) -> Callable[..., None]:
        def hook(module: nn.Module, inputs: Any, output: Any) -> None:
            out = _first_tensor(output)
            if out is None:
                return
            record = self.stats[name]
            with torch.no_grad():
                values = _upcast(out)
                record["act_mean"].append(values.mean().item())
                record["act_std"].append(values.std(correction=0).item())
                record["act_frac_zero"].append((values == 0).float().mean().item())
            if out.requires_grad:
                # A tensor hook, not register_full_backward_hook: it also works when the next
                # module modifies the output in place (nn.ReLU(inplace=True)).
                out.register_hook(self._grad_output_hook(name))
            # Returning None keeps the module's output unchanged.

        return hook

    def _grad_output_hook(self, name: str) -> Callable[[torch.Tensor], None]:
        def hook(grad: torch.Tensor) -> None:
            norm = torch.linalg.vector_norm(_upcast(grad))
            self.stats[name]["grad_output_norm"].append(norm.item())

        return hook

    def _weight_hook(self, name: str) -> Callable[[torch.Tensor], None]:
        def hook(grad: torch.Tensor) -> None:
            norm = torch.linalg.vector_norm(_upcast(grad))
            self.stats[name]["weight_grad_norm"].append(norm.item())

        return hook


def parameter_grad_norms(model: nn.Module) -> dict[str, float]:
    """The Euclidean norm of every parameter's accumulated ``.grad``, by parameter name.

    Parameters without a gradient (frozen, or not used since ``zero_grad(set_to_none=True)``)
    are left out. No hooks needed: call it after ``backward()``.
    """
    return {
        name: torch.linalg.vector_norm(_upcast(p.grad)).item()
        for name, p in model.named_parameters()
        if p.grad is not None
    }
