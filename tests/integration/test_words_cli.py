"""The words and the policy from the CLI: `i2v generate --caption/--rating/--no-enhance`,
`i2v caption`, `i2v users grant-mature` and `i2v policy audit`, as a user runs them."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest

from i2v.bootstrap import open_app
from i2v.cli.app import run
from i2v.config import load_settings
from i2v.errors import PolicyRefused
from i2v.policy.base import Rating
from i2v.services import policy

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "example.jpg"
FAST = ("--size", "360x640", "--duration", "3", "--fps", "24")


@pytest.fixture
def env(cli_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("I2V_DATA_DIR", str(cli_env / "data"))
    return cli_env


def i2v(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = run(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_generate_writes_the_caption_beside_the_video_and_keeps_yours(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ("generate", str(EXAMPLE), "-o", "clip.mp4", "-p", "waves roll in", *FAST)
    code, out, err = i2v(capsys, *args, "--caption", "both")
    assert code == 0, err
    assert "and clip.caption.txt" in out
    text = (env / "clip.caption.txt").read_text()
    assert text.startswith("[instagram]\n")
    assert "\n[tiktok]\n" in text
    assert text.count("Made with AI") == 2
    # The caption is an output like the others: kept unless --force, checked before rendering.
    (env / "clip.mp4").unlink()
    (env / "clip.cover.jpg").unlink()
    code, _, err = i2v(capsys, *args, "--caption", "tiktok")
    assert code == 1
    assert err == "i2v: error: clip.caption.txt exists; pass --force to replace it\n"
    assert not (env / "clip.mp4").exists()
    code, _, err = i2v(capsys, *args, "--caption", "tiktok", "--force")
    assert code == 0, err
    assert (env / "clip.caption.txt").read_text().startswith("[tiktok]\n")


def test_generate_refuses_by_category_and_honours_the_rating(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ("generate", str(EXAMPLE), "-o", "clip.mp4", *FAST)
    for prompt, extra, message in (
        (
            "nude photo of a 15yo",
            (),
            "refused: sexual content involving minors or childlike subjects is never allowed",
        ),
        (
            "topless on the beach",
            (),
            "rated R: the prompt goes beyond what this job allows (up to PG-13)",
        ),
        ("waves", ("--rating", "NC-17"), "rating 'NC-17' is not one of: PG, PG-13, R, X"),
        ("waves", ("--caption", "facebook"), "caption 'facebook' is not one of"),
    ):
        code, out, err = i2v(capsys, *base, "-p", prompt, *extra)
        assert (code, out) == (2, "")
        assert err.startswith(f"i2v: error: {message}"), err
        assert err.count("\n") == 1
    assert not (env / "clip.mp4").exists()
    # The operator's own machine may render R locally, asked for.
    code, _, err = i2v(capsys, *base, "-p", "topless on the beach", "--rating", "R")
    assert code == 0, err
    # The enhancer's note about the local renderer, and --no-enhance.
    code, _, err = i2v(capsys, *base, "-p", "the water ripples", "--force", "--no-enhance")
    assert code == 0, err
    assert "note: no camera move the local renderer can draw was found" in err


def test_caption_prints_both_platforms_or_json_and_refuses_what_the_policy_refuses(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = i2v(capsys, "caption", str(EXAMPLE), "-p", "a dog running on the beach")
    assert (code, err) == (0, "")
    assert out.startswith("[instagram]\n")
    assert "[tiktok]" in out
    code, out, _ = i2v(capsys, "caption", str(EXAMPLE), "-p", "a lighthouse", "--json",
                       "--platform", "tiktok")  # fmt: skip
    parts = json.loads(out)
    assert list(parts) == ["tiktok"]
    assert 3 <= len(parts["tiktok"]["hashtags"]) <= 5
    assert parts["tiktok"]["disclosure"] == "Made with AI"
    code, out, err = i2v(capsys, "caption", str(EXAMPLE), "-p", "undress the woman in this photo")
    assert (code, out) == (2, "")
    assert "sexual or nude content of a real, identifiable person" in err
    code, _, err = i2v(capsys, "caption", str(env / "missing.jpg"), "-p", "waves")
    assert code == 2
    assert err.rstrip().endswith("missing.jpg: no such file")


def test_grants_and_the_audit_from_the_cli(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert i2v(capsys, "users", "create", "alice")[0] == 0
    code, out, err = i2v(capsys, "users", "grant-mature", "alice")
    assert code == 0, err
    assert out.startswith("alice: mature content allowed (granted by cli:")
    code, out, _ = i2v(capsys, "users", "list")
    assert out.rstrip().endswith("mature")
    code, out, _ = i2v(capsys, "users", "revoke-mature", "alice")
    assert out == "alice: mature content not allowed\n"
    code, _, err = i2v(capsys, "users", "grant-mature", "nobody")
    assert code != 0
    assert "no user 'nobody'" in err
    code, out, err = i2v(capsys, "policy", "audit", "--json")
    assert (code, out) == (0, "")  # nothing decided yet on this database
    app = open_app(load_settings())
    try:
        subject = policy.Subject("usr_x", False, Rating.PG13, ("local",), False)
        for prompt in ("waves", "a nude photo of a 15yo"):
            with contextlib.suppress(PolicyRefused):
                policy.check(app.db, subject, (prompt,), (), None, job_id="job_x")
    finally:
        app.close()
    code, out, _ = i2v(capsys, "policy", "audit", "--json")
    refused, allowed = (json.loads(line) for line in out.splitlines())
    assert (refused["decision"], refused["category"], refused["job_id"]) == (
        "refuse",
        "minors",
        None,
    )
    assert "age.stated_minor" in refused["rules"]
    assert (allowed["decision"], allowed["job_id"]) == ("allow", "job_x")
    code, out, _ = i2v(capsys, "policy", "audit", "--refused", "--limit", "5")
    assert out.count("\n") == 1
    assert "refuse" in out
    assert "minors" in out
