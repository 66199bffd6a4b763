"""The autograder: trusted graded tests, a sandboxed worker for student code, nbgrader glue."""
