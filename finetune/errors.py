"""Errors of the fine-tuning pipeline; each message is written to be shown to the operator as is."""

from __future__ import annotations


class FinetuneError(RuntimeError):
    """A step cannot run (bad config, missing run folder, empty data set, unusable hardware path)."""


class DataError(FinetuneError):
    """An input file is malformed; the message names the file and the line."""

    def __init__(self, path: str, line: int, problem: str) -> None:
        self.path = path
        self.line = line
        self.problem = problem
        super().__init__(f"{path}, line {line}: {problem}")


class AdapterMismatch(FinetuneError):
    """An adapter was trained on a different base model than the one it is being loaded onto."""
