"""course_lib: the tested library behind every chapter and assignment of the course."""

__version__ = "0.1.0"
