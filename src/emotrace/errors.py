"""The one exception type for bad input: it names the file or config key and the problem."""

from __future__ import annotations

from pathlib import Path


class InputError(ValueError):
    """Bad input data or configuration; the message starts with where the problem is."""

    def __init__(self, where: str | Path, problem: str):
        self.where = str(where)
        self.problem = problem
        super().__init__(f"{self.where}: {problem}")
