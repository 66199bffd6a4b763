"""Optimizers written to be read, each checked step by step against torch.optim.

Every first-order class subclasses :class:`torch.optim.Optimizer`, takes the hyperparameters of
torch's class of the same name, and calls a functional core with typed state that has a readable
per-tensor path (``impl="readable"``, what the chapters show) and a ``foreach`` fast path
(``impl="foreach"``). :class:`Lookahead` wraps any of them; :class:`LBFGS` and :class:`Newton` are
the second-order methods of the book.

The functional cores live in the submodules (``course_lib.optim.adam.adam`` and so on); they are
not re-exported here, where their names would hide the submodules of the same name.
"""

from course_lib.optim.adagrad import Adagrad, AdagradState
from course_lib.optim.adam import Adam, AdamState, AdamW
from course_lib.optim.base import IMPLS, CourseOptimizer
from course_lib.optim.lbfgs import LBFGS
from course_lib.optim.lookahead import Lookahead
from course_lib.optim.nadam import NAdam, NAdamState
from course_lib.optim.newton import Newton
from course_lib.optim.radam import RAdam, RAdamState
from course_lib.optim.rmsprop import RMSprop, RMSpropState
from course_lib.optim.sgd import SGD, SGDState

__all__ = [
    "IMPLS",
    "LBFGS",
    "SGD",
    "Adagrad",
    "AdagradState",
    "Adam",
    "AdamState",
    "AdamW",
    "CourseOptimizer",
    "Lookahead",
    "NAdam",
    "NAdamState",
    "Newton",
    "RAdam",
    "RAdamState",
    "RMSprop",
    "RMSpropState",
    "SGDState",
]
