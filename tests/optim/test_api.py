"""What every first-order optimizer shares: torch's defaults, and a clear error for a bad impl."""

import pytest
import torch

from course_lib import optim

FIRST_ORDER = ["SGD", "Adagrad", "RMSprop", "Adam", "AdamW", "RAdam", "NAdam"]


@pytest.mark.parametrize("name", FIRST_ORDER)
def test_defaults_are_torchs(name):
    p = [torch.zeros(2, requires_grad=True)]
    ours = getattr(optim, name)(p).defaults
    ref = getattr(torch.optim, name)(p).defaults
    assert ours == {k: ref[k] for k in ours}


@pytest.mark.parametrize("name", FIRST_ORDER)
def test_unknown_impl_is_refused_by_name(name):
    with pytest.raises(ValueError, match="impl='fast'"):
        getattr(optim, name)([torch.zeros(2, requires_grad=True)], impl="fast")
