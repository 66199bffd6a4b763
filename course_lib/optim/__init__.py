"""Optimizers written to be read, each checked step by step against torch.optim.

Every class subclasses :class:`torch.optim.Optimizer`, takes the hyperparameters of torch's
class of the same name, and calls a functional core with typed state that has a readable
per-tensor path and a ``foreach`` fast path (``impl="foreach"``).
"""

from course_lib.optim.base import IMPLS, CourseOptimizer

__all__ = ["IMPLS", "CourseOptimizer"]
