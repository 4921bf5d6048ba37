"""Catalogues of plausible wrong answers, one module per notebook: ``MUTANTS = {part: [function, ...]}``.

Every mutant's docstring says what is wrong with it; every check must reject every mutant of its part.
"""
