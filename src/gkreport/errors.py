"""The errors gkreport raises on purpose: one root, one subclass per kind.

Every message is Chinese and names the file (and the item) concerned, so the command
line can show it as one line. ``exit_code`` is the command's exit status for that kind
(see “退出码” in README.md): 1 means the workbooks still have errors, 2 that something
given to the command (a spec, a workbook, a wording file, the mail settings) cannot be
used, 3 that an output could not be made.
"""

from __future__ import annotations

from pathlib import Path

EXIT_OK = 0
EXIT_ERRORS = 1  # the checked workbooks have 错误 findings
EXIT_UNUSABLE = 2  # an input cannot be used: unreadable workbook, broken spec or wording file, mail settings
EXIT_OUTPUT = 3  # an output could not be made (PDF)
EXIT_INTERNAL = 4  # a fault of the program itself (not a GkreportError)


class GkreportError(Exception):
    """The root of gkreport's errors; ``message`` is Chinese and complete."""

    exit_code = EXIT_UNUSABLE

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class SpecError(GkreportError):
    """A form spec file is broken; the message names the file, the place in it and the key."""


class ReadError(GkreportError):
    """A workbook could not be read at all; the message names the file."""

    def __init__(self, message: str, file: Path | str | None = None):
        super().__init__(message)
        self.file = file


class WordingError(GkreportError, ValueError):
    """A wording file is broken; the message names the file, the item and the placeholders allowed."""


class StrictRefusal(GkreportError):
    """``strict`` and the unit's tables still have errors: no report was written."""

    exit_code = EXIT_ERRORS

    def __init__(self, unit_name: str, count: int):
        self.unit_name = unit_name
        self.count = count
        super().__init__(
            f"“{unit_name}”的统计表仍有{count}处错误，未生成年度报告。"
            "请更正统计表后重新审核；如需先生成带审核提示的草稿，请不要使用严格模式。"
        )


class PdfError(GkreportError, RuntimeError):
    """A PDF could not be made; the message says which file and why."""

    exit_code = EXIT_OUTPUT


class OutputError(GkreportError):
    """The output folder cannot be used at all (read-only, no permission, in use by another run,
    holding another input folder's results); the message names the folder and what to do."""


class MailError(GkreportError):
    """A mail run cannot go on; ``exit_code`` 2 = it cannot start."""

    def __init__(self, message: str, exit_code: int = EXIT_UNUSABLE):
        super().__init__(message)
        self.exit_code = exit_code


class RosterError(GkreportError):
    """A roster (名单) of units and addresses cannot be used; the message names the file."""
