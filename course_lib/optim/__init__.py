"""Optimizers written to be read, each checked step by step against torch.optim.

Every first-order class subclasses :class:`torch.optim.Optimizer`, takes the hyperparameters of
torch's class of the same name, and calls a functional core with typed state that has a readable
per-tensor path (``impl="readable"``, what the chapters show) and a ``foreach`` fast path
(``impl="foreach"``). :class:`Lookahead` wraps any of them; :class:`LBFGS` and :class:`Newton` are
the second-order methods of the book.
"""

from course_lib.optim.adagrad import Adagrad, AdagradState, adagrad
from course_lib.optim.adam import Adam, AdamState, AdamW, adam
from course_lib.optim.base import IMPLS, CourseOptimizer
from course_lib.optim.lbfgs import LBFGS
from course_lib.optim.lookahead import Lookahead
from course_lib.optim.nadam import NAdam, NAdamState, nadam
from course_lib.optim.newton import Newton
from course_lib.optim.radam import RAdam, RAdamState, radam
from course_lib.optim.rmsprop import RMSprop, RMSpropState, rmsprop
from course_lib.optim.sgd import SGD, SGDState, sgd

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
    "adagrad",
    "adam",
    "nadam",
    "radam",
    "rmsprop",
    "sgd",
]
