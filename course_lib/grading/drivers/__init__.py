"""Drivers: trusted helper functions that run inside the sandboxed worker beside student code.

A driver is called as ``fn(namespace, **kwargs)`` where ``namespace`` is the dict the student's
answer cells ran in; it returns plain data (see :mod:`course_lib.grading.testing`).
"""
