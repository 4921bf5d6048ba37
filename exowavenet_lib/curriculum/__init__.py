"""Curriculum tooling: the notebook catalogue, the exercise generator and notebook execution."""
