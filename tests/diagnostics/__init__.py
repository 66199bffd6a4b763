"""Tests of course_lib.diagnostics."""
