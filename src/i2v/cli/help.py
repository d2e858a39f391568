"""Click-style help for every command: plain flags, choices and upper-case metavars."""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, get_args

from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

if TYPE_CHECKING:
    from typer._click import Command, Context, Parameter  # Typer's own Click, for types only

_TYPE_NAMES: dict[object, str] = {str: "TEXT", int: "INTEGER", float: "FLOAT", bool: "BOOLEAN"}


def _type_name(param: TyperOption | TyperArgument) -> str:
    """What a value looks like: TEXT, INTEGER, PATH, [a|b], as Click has always shown it."""
    desc = param.type_descriptor
    if desc.is_choice:
        choices = (c.value if isinstance(c, Enum) else c for c in desc.choices or ())
        return f"[{'|'.join(map(str, choices))}]"
    if desc.is_path:
        return "PATH"
    annotation = get_args(desc.annotation)[0] if desc.is_list else desc.annotation
    return _TYPE_NAMES.get(annotation) or getattr(annotation, "__name__", "VALUE").upper()


class PlainOption(TyperOption):
    """Typer 0.29 shows `<bool>` beside every flag and `<str>` for every value."""

    def display_type_rich(self, ctx: Context) -> str | None:
        if self.is_flag or self.count:
            return None
        shown = self.metavar if self.metavar is not None else _type_name(self)
        return f"{shown}..." if self.nargs != 1 else shown


class PlainArgument(TyperArgument):
    """Typer 0.29 writes a required IMAGE as `{image}` in the usage line."""

    @property
    def display_name_raw(self) -> str:
        return self.metavar or (self.name or "").upper()

    def display_type_rich(self, ctx: Context) -> str | None:
        return _type_name(self)

    def _usage_display_name(self) -> str:
        name = self.display_name_raw if self.required else f"[{self.display_name_raw}]"
        return f"{name}..." if self.nargs != 1 else name


def _plain(params: list[Parameter]) -> list[Parameter]:
    # Typer builds every parameter itself, with no hook for its class; switching the class
    # of what it built keeps all the parsing it set up and changes only the help text.
    for param in params:
        if type(param) is TyperOption:
            param.__class__ = PlainOption
        elif type(param) is TyperArgument:
            param.__class__ = PlainArgument
    return params


class PlainCommand(TyperCommand):
    def get_params(self, ctx: Context) -> list[Parameter]:
        return _plain(super().get_params(ctx))


class PlainGroup(TyperGroup):
    """The root group: every command reached through it, at any depth, gets plain help."""

    def get_params(self, ctx: Context) -> list[Parameter]:
        return _plain(super().get_params(ctx))

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        command = super().get_command(ctx, cmd_name)
        if type(command) is TyperCommand:
            command.__class__ = PlainCommand
        elif type(command) is TyperGroup:
            command.__class__ = PlainGroup
        return command
