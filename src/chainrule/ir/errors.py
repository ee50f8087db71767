"""Errors raised by the IR layer."""

from __future__ import annotations


class IRError(Exception):
    """Base class of errors about graphs."""


class IRTypeError(IRError, TypeError):
    """An op was given operands or attributes its type rule rejects.

    The message names the op, the operand types it got and what it expected.
    """

    def __init__(self, op: str, operand_types, problem: str, expected: str | None = None):
        self.op = op
        self.operand_types = tuple(operand_types)
        self.problem = problem
        self.expected = expected
        got = ", ".join(str(t) for t in self.operand_types) or "no operands"
        msg = f"{op}: {problem} (operand types: {got})"
        if expected:
            msg += f"; expected {expected}"
        super().__init__(msg)


class VerifyError(IRError):
    """A graph breaks an invariant of the IR (SSA order, types, regions)."""


class ParseError(IRError, ValueError):
    """The text form could not be parsed; carries the line and column (1-based)."""

    def __init__(self, message: str, line: int, column: int, source_line: str | None = None):
        self.message = message
        self.line = line
        self.column = column
        text = f"line {line}, column {column}: {message}"
        if source_line is not None:
            text += f"\n  {source_line}\n  {' ' * (column - 1)}^"
        super().__init__(text)
