"""The help of every command reads like Click's: plain flags, choices and upper-case metavars.

Typer 0.29 showed `<bool>` beside every flag, `<str>` for every value and `{image}` in usage
lines; the walk below renders `--help` for each command there is, so a new one is covered too.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Iterator

import pytest
import typer.main

from i2v.cli.app import COMMANDS as ROOT_COMMANDS
from i2v.cli.app import LazyGroup, app, load_command, run

pytestmark = pytest.mark.usefixtures("cli_env")

# Typer's own type marks: <bool>, <str>, <int>, <float>, <path>, <int range>, <a|b>, ...
TYPER_TYPE = re.compile(r"<(bool|str|int|float|path|[a-z]+ range|[^<>\s]*\|[^<>\s]*)>")
USAGE = re.compile(r"Usage: (.*)")


def _subcommands(command: object) -> dict[str, object]:
    if isinstance(command, LazyGroup):  # the root loads each command only when it is used
        return {name: load_command(name) for name in ROOT_COMMANDS}
    return dict(getattr(command, "commands", {}))


def _command_paths() -> Iterator[list[str]]:
    def walk(command: object, path: list[str]) -> Iterator[list[str]]:
        yield path
        for name, sub in sorted(_subcommands(command).items()):
            yield from walk(sub, [*path, name])

    yield from walk(typer.main.get_command(app), [])


COMMANDS = [pytest.param(path, id=" ".join(["i2v", *path])) for path in _command_paths()]


def _plain(text: str) -> str:
    """Help text without ANSI styling or box-drawing, whitespace collapsed."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", text).split())


def _help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert run([*argv, "--help"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    return _plain(out)


def test_every_command_is_walked() -> None:
    names = {" ".join(p.values[0]) for p in COMMANDS}  # type: ignore[arg-type]
    assert {"", "generate", "serve", "worker", "db upgrade", "users create", "keys revoke",
            "workflows list", "fleet up"} <= names  # fmt: skip


@pytest.mark.parametrize("path", COMMANDS)
def test_help_has_no_typer_type_marks(
    path: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    text = _help(path, capsys)
    assert "<bool>" not in text
    assert "<str>" not in text
    assert not TYPER_TYPE.search(text), TYPER_TYPE.search(text)
    usage = USAGE.search(text)
    assert usage, text
    assert "{" not in usage.group(1), usage.group(1)


@pytest.mark.parametrize("path", COMMANDS)
def test_flags_show_no_value(
    path: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    text = _help(path, capsys)
    # A flag is followed straight by its help text (or its short form), never a type.
    assert re.search(r"--help -h Show this message and exit\.", text), text


def test_generate_help_shows_metavars_and_choices(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    text = _help(["generate"], capsys)
    assert "Usage: i2v generate [OPTIONS] IMAGES... " in text
    assert "* IMAGES... PATH Input image(s)" in text
    for shown in (
        "--output -o PATH", "--force Replace", "--prompt -p TEXT", "--motion MOTION",
        "--duration SECONDS", "--fps INTEGER", "--size WxH", "--aspect [9:16|4:5|1:1|16:9]",
        "--fit [cover|contain]", "--seed INTEGER", "--backend [auto|local|comfyui|fal]",
        "--workflow NAME", "--backdrop [blur|colour|mirror]", "--focus X,Y",
        "--cover-at SECONDS", "--audio FILE", "--sound Ask", "--jobs -j INTEGER",
    ):  # fmt: skip
        assert shown in text, shown


def test_serve_help_shows_the_port_range(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    text = _help(["serve"], capsys)
    assert "--port INTEGER [1<=x<=65535]" in text
    assert "--no-worker Only serve the API" in text


def _required_arguments() -> Iterator[tuple[list[str], str]]:
    """(command path, how its first required argument is named) for each command with one."""
    for path in _command_paths():
        command: object = typer.main.get_command(app)
        for name in path:
            command = _subcommands(command)[name]
        for param in command.params:  # type: ignore[attr-defined]
            if param.required and param.param_type_name == "argument":
                yield path, param.metavar or str(param.name).upper()
                break


@pytest.mark.parametrize(
    ("path", "shown"), [pytest.param(p, n, id=" ".join(p)) for p, n in _required_arguments()]
)
def test_a_missing_argument_is_named_as_in_the_usage_line(
    path: list[str], shown: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # "--" ends the options without giving the argument (no arguments at all shows help).
    assert run([*path, "--"]) == 2
    assert capsys.readouterr().err == f"i2v: error: Missing argument '{shown}'.\n"


@pytest.mark.parametrize("argv", [[], ["fleet"], ["users"]], ids=["i2v", "i2v-fleet", "i2v-users"])
def test_no_arguments_prints_help_and_exits_0(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(argv) == 0
    out, err = capsys.readouterr()
    assert "Usage: i2v" in out
    assert err == ""


def test_console_script_without_arguments_prints_help_and_exits_0(
    run_i2v: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    done = run_i2v()
    assert done.returncode == 0, done.stderr
    assert "Usage: i2v [OPTIONS] COMMAND [ARGS]..." in _plain(done.stdout)
    assert done.stderr == ""
