"""Command-line values checked without pydantic.

typer (from 0.29) checks every option's value with a pydantic ``TypeAdapter``: importing pydantic
and building the adapters costs about 0.2 s of every command, more than the work of an unchanged
batch run. The options here are plain text, switches, whole numbers, numbers, paths and lists of paths; for a
value whose meaning is plain (``4``, ``0.5``, any text, any path) this module gives what typer's
own check gives (the path checks are typer's own function), and leaves every other value (a
number out of its range, ``1e3``, a value of another type) to typer's check, so that what is
accepted, refused and said about it stays typer's. Installed by :func:`install` on typer's
parameter class; where typer's internals are not those this was written for, typer is left as it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args, get_origin

_INT = re.compile(r"-?[0-9]{1,18}")
_FLOAT = re.compile(r"-?[0-9]{1,15}(?:\.[0-9]{1,15})?")


def install() -> bool:
    """Put :func:`_build` in place of typer's builder of value checks; False where it cannot be."""
    try:
        from typer import _coercion, core
        from typer._param_types import coerce_cli_path
    except ImportError:
        return False
    stock: Any = getattr(core, "build_runtime_param", None)
    base = getattr(_coercion, "RuntimeParam", None)
    if stock is None or base is None or getattr(stock, "gkreport_fast", False):
        return bool(stock is not None and getattr(stock, "gkreport_fast", False))

    @dataclass(frozen=True)
    class FastParam(base):  # type: ignore[misc, valid-type]
        """One parameter's check: the plain cases here, the rest by typer's own check (built when needed)."""

        descriptor: Any = None
        kind: str = ""
        made: list[Any] = field(default_factory=list)

        def _typer(self, value: Any, param: Any, ctx: Any) -> Any:
            if not self.made:
                self.made.append(stock(self.descriptor))
            return self.made[0]._coerce_value(value, param=param, ctx=ctx)

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            if self.kind == "paths":
                if isinstance(value, (list, tuple)) and all(isinstance(v, str) and v for v in value):
                    return [self._path(v, param, ctx) for v in value]
            elif self.kind == "path":
                if isinstance(value, str) and value:
                    return self._path(value, param, ctx)
            elif self.kind == "str":
                if isinstance(value, str):
                    return value
            elif self.kind == "bool":  # (a flag's value; one left unset, None, never gets here)
                if isinstance(value, bool):
                    return value
            elif self.kind == "int":
                number = _plain(value, int, _INT)
                if number is not None and self._within(number):
                    return number
            elif self.kind == "float":
                number = _plain(value, float, _FLOAT)
                if number is not None and self._within(number):
                    return number
            return self._typer(value, param, ctx)

        def _path(self, value: str, param: Any, ctx: Any) -> Any:
            return coerce_cli_path(Path(value), self.parameter_info, path_type=Path, param=param, ctx=ctx)

        def _within(self, number: float) -> bool:
            info = self.parameter_info
            return (info.min is None or number >= info.min) and (info.max is None or number <= info.max)

    def build(descriptor: Any) -> Any:
        kind = _kind(descriptor)
        if kind is None:
            return stock(descriptor)
        return FastParam(
            parameter_info=descriptor.parameter_info, annotation=descriptor.annotation, descriptor=descriptor, kind=kind
        )

    build.__dict__["gkreport_fast"] = True  # installed once
    core.build_runtime_param = build
    return True


def _plain(value: Any, kind: type, pattern: re.Pattern[str]) -> Any:
    """``value`` as ``kind`` when it is already one, or text that plainly writes one; else None."""
    if type(value) is kind:
        return value
    if isinstance(value, str) and pattern.fullmatch(value):
        return kind(value)
    return None


# the parameter settings this module knows: each as typer sets it by default
_PLAIN_INFO = {
    "parser": None,
    "clamp": False,
    "exists": False,
    "file_okay": True,
    "dir_okay": True,
    "writable": False,
    "readable": True,
    "resolve_path": False,
    "allow_dash": False,
    "path_type": None,
}


def _kind(descriptor: Any) -> str | None:
    """Which plain check a parameter takes (None: typer's own)."""
    info = descriptor.parameter_info
    if getattr(descriptor, "file_annotation", None) is not None:
        return None
    if any(getattr(info, k, v) != v for k, v in _PLAIN_INFO.items()):
        return None
    annotation = descriptor.annotation
    if annotation is str:
        return "str"
    if annotation is bool:
        return "bool"
    if annotation is int:
        return "int"
    if annotation is float:
        return "float"
    if annotation is Path:
        return "path"
    if get_origin(annotation) is list and get_args(annotation) == (Path,):
        return "paths"
    return None
