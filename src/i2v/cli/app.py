"""The Typer application, and `main`: one clear line on stderr for every error."""

from __future__ import annotations

import difflib
import importlib
import signal
import sys
import traceback
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperCommand

from i2v import __version__
from i2v.cli.help import PlainGroup
from i2v.errors import I2VError, InvalidInput

if TYPE_CHECKING:
    from typer._click import Command, Context  # Typer's own Click, for types only


@dataclass(frozen=True, slots=True)
class _Entry:
    """Where a command lives, and the line the root's help shows for it without loading it."""

    module: str
    attr: str
    summary: str  # the first paragraph of its help; a test keeps the two the same
    group: bool = False  # a typer.Typer of subcommands, not a function
    no_args_is_help: bool = False


# In the order the root's help lists them. A command's module is imported only when that
# command runs (or shows its own help): `i2v --version`, `i2v --help` and `i2v generate` on
# the local backend then never load the database, the web stack or the vendor clients.
COMMANDS: dict[str, _Entry] = {
    "generate": _Entry(
        "i2v.cli.generate",
        "generate",
        "Animate each image with a camera move into a publish-ready MP4 plus a JPEG cover.",
        no_args_is_help=True,
    ),
    "quote": _Entry(
        "i2v.cli.quote",
        "quote",
        "Price a render of IMAGE on every backend that runs the model; nothing is paid or run.",
        no_args_is_help=True,
    ),
    "caption": _Entry(
        "i2v.cli.caption",
        "caption",
        "Write a ready-to-post caption for Instagram Reels or TikTok, with no video.",
        no_args_is_help=True,
    ),
    "backends": _Entry(
        "i2v.cli.backends",
        "backends",
        "List the backends: available, unavailable and why, or failing recently (breaker open).",
    ),
    "serve": _Entry(
        "i2v.cli.serve",
        "serve",
        "Serve the web dashboard at / and the REST API (OpenAPI at /docs); SIGTERM drains and\n"
        "stops gracefully.",
    ),
    "worker": _Entry(
        "i2v.cli.worker",
        "worker",
        "Run queued jobs; SIGTERM stops taking work and lets running steps finish.",
    ),
    "db": _Entry("i2v.cli.admin", "db_app", "Database schema.", group=True),
    "users": _Entry("i2v.cli.admin", "users_app", "User accounts.", group=True),
    "keys": _Entry("i2v.cli.admin", "keys_app", "API keys.", group=True),
    "workflows": _Entry("i2v.cli.workflows", "workflows_app", "ComfyUI workflows.", group=True),
    "models": _Entry(
        "i2v.cli.models", "models_app", "Video models and the backends that run them.", group=True
    ),
    "fleet": _Entry(
        "i2v.cli.fleet", "fleet_app", "Rented GPU instances (Vast.ai, RunPod).", group=True
    ),
    "policy": _Entry("i2v.cli.policy", "policy_app", "The content policy.", group=True),
}


def load_command(name: str) -> Command:
    """The Click command for `name`, built exactly as registering it on the root would."""
    entry = COMMANDS[name]
    target: Any = getattr(importlib.import_module(entry.module), entry.attr)
    # A one-command Typer with a callback is a group, so Typer converts the command as one of
    # the root's: same classes, same settings as `app` has.
    holder = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    holder.callback()(_nothing)
    if entry.group:
        holder.add_typer(target, name=name)
    else:
        holder.command(name=name, no_args_is_help=entry.no_args_is_help)(target)
    group = typer.main.get_command(holder)
    return group.commands[name]  # type: ignore[attr-defined,no-any-return]


def _nothing() -> None:
    """The holder's callback; never run."""


class LazyGroup(PlainGroup):
    """The root: lists COMMANDS from the table, and imports one only when it is used."""

    _listing = False  # while the root's own help is written: summaries only, nothing imported

    def list_commands(self, ctx: Context) -> list[str]:
        return [*COMMANDS, *(name for name in super().list_commands(ctx) if name not in COMMANDS)]

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        if cmd_name in COMMANDS and cmd_name not in self.commands:
            if self._listing:
                return TyperCommand(name=cmd_name, help=COMMANDS[cmd_name].summary)
            self.add_command(load_command(cmd_name), cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_help(self, ctx: Context, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def resolve_command(
        self, ctx: Context, args: list[str]
    ) -> tuple[str | None, Command | None, list[str]]:
        try:
            return super().resolve_command(ctx, args)
        except Exception as exc:
            # Typer suggests close names from the commands loaded so far, which here is none.
            message = getattr(exc, "message", None)
            if isinstance(message, str) and args and "Did you mean" not in message:
                matches = difflib.get_close_matches(args[0], self.list_commands(ctx))
                if matches:
                    names = ", ".join(f"{m!r}" for m in matches)
                    exc.message = f"{message.rstrip('.')}. Did you mean {names}?"  # type: ignore[attr-defined]
            raise


app = typer.Typer(
    name="i2v",
    cls=LazyGroup,
    help="Turn still images into publish-ready short videos.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143


def _version(value: bool) -> None:
    if value:
        typer.echo(f"i2v {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
    debug: Annotated[
        bool,
        typer.Option(
            "--debug", help="Show full tracebacks for errors (put it before the command)."
        ),
    ] = False,
) -> None:
    """Turn still images into publish-ready short videos."""


def _fail(message: str, code: int) -> int:
    print(f"i2v: error: {message}", file=sys.stderr)
    return code


def _usage_error(exc: Exception) -> tuple[str, int] | None:
    """(one-line message, exit code) for Click's usage errors, else None.

    Typer vendors Click privately, so these are recognised by shape, not by class.
    """
    format_message = getattr(exc, "format_message", None)
    code = getattr(exc, "exit_code", None)
    if not callable(format_message) or not isinstance(code, int):
        return None
    return " ".join(str(format_message()).split()), code


def _terminate(signum: int, frame: FrameType | None) -> None:
    # SystemExit unwinds through the atomic writers, so no partial file is left behind.
    raise SystemExit(EXIT_TERMINATED)


def run(argv: list[str]) -> int:
    debug = "--debug" in argv
    try:
        result = app(args=argv, prog_name="i2v", standalone_mode=False)
    except I2VError as exc:
        if debug:
            traceback.print_exc()
        return _fail(str(exc), EXIT_USAGE if isinstance(exc, InvalidInput) else EXIT_FAILURE)
    except (typer.Abort, KeyboardInterrupt):
        return _fail("interrupted", EXIT_INTERRUPTED)
    except Exception as exc:
        usage = _usage_error(exc)
        if usage is not None:
            message, code = usage
            # An empty message means "no arguments": Click printed the help, as asked.
            return _fail(message, code) if message else 0
        if debug:
            traceback.print_exc()
            return _fail(f"{type(exc).__name__}: {exc}", EXIT_FAILURE)
        return _fail(f"{type(exc).__name__}: {exc} (rerun with --debug for details)", EXIT_FAILURE)
    if result == EXIT_INTERRUPTED:  # Typer turns Ctrl-C into Exit(130) on its own
        return _fail("interrupted", EXIT_INTERRUPTED)
    return result if isinstance(result, int) else 0


def main() -> None:
    signal.signal(signal.SIGTERM, _terminate)
    sys.exit(run(sys.argv[1:]))


if __name__ == "__main__":
    main()
