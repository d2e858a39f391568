"""The Typer application, and `main`: one clear line on stderr for every error."""

from __future__ import annotations

import signal
import sys
import traceback
from types import FrameType
from typing import Annotated

import typer

from i2v import __version__
from i2v.cli.admin import db_app, keys_app, users_app
from i2v.cli.backends import backends
from i2v.cli.caption import caption
from i2v.cli.fleet import fleet_app
from i2v.cli.generate import generate
from i2v.cli.help import PlainGroup
from i2v.cli.models import models_app
from i2v.cli.policy import policy_app
from i2v.cli.quote import quote
from i2v.cli.serve import serve
from i2v.cli.worker import worker
from i2v.cli.workflows import workflows_app
from i2v.errors import I2VError, InvalidInput

app = typer.Typer(
    name="i2v",
    cls=PlainGroup,
    help="Turn still images into publish-ready short videos.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.command(no_args_is_help=True)(generate)
app.command(no_args_is_help=True)(quote)
app.command(no_args_is_help=True)(caption)
app.command()(backends)
app.command()(serve)
app.command()(worker)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(keys_app, name="keys")
app.add_typer(workflows_app, name="workflows")
app.add_typer(models_app, name="models")
app.add_typer(fleet_app, name="fleet")
app.add_typer(policy_app, name="policy")

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
