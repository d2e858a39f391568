"""`i2v caption`: a ready-to-post caption and hashtags for a picture's video, with no video."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated

import typer


def caption(
    image: Annotated[
        Path,
        typer.Argument(
            help="The picture (PNG, JPEG or WebP), checked as `i2v generate` checks it.",
            show_default=False,
        ),
    ],
    prompt: Annotated[
        str,
        typer.Option("--prompt", "-p", help="What the video shows, as you would prompt it."),
    ] = "",
    platform: Annotated[
        str,
        typer.Option(metavar="[instagram|tiktok|both]", help="Which platform's caption."),
    ] = "both",
    as_json: Annotated[bool, typer.Option("--json", help="Print the parts as JSON.")] = False,
) -> None:
    """Write a ready-to-post caption for Instagram Reels or TikTok, with no video.

    A hook, searchable lines, a call to action, 3-5 specific hashtags and an AI disclosure,
    within each platform's limits."""
    from i2v.config import load_settings
    from i2v.media.image import ImageLimits, check_image_file
    from i2v.policy.base import Rating
    from i2v.services import policy
    from i2v.services.words import captions, parse_captions

    settings = load_settings()
    limits = ImageLimits(max_pixels=settings.max_image_pixels, min_side=settings.min_image_side)
    check_image_file(image, limits)
    platforms = parse_captions(platform)
    # No caption for what the policy would refuse; the operator's own machine allows up to X.
    subject = policy.Subject(None, True, Rating.X, ("local",), False)
    policy.check(None, subject, (prompt,), (), None)
    picture_sha = hashlib.sha256(image.read_bytes()).hexdigest()  # as the service's seed
    made = captions(settings, prompt, platforms, seed=picture_sha)
    if as_json:
        parts = {
            c.platform.value: {
                "text": c.text,
                "hook": c.hook,
                "body": list(c.body),
                "call_to_action": c.call_to_action,
                "hashtags": list(c.hashtags),
                "disclosure": c.disclosure,
                "source": c.source,
            }
            for c in made
        }
        typer.echo(json.dumps(parts, ensure_ascii=False, indent=2))
        return
    for index, found in enumerate(made):
        if len(made) > 1:
            typer.echo(f"{'' if index == 0 else chr(10)}[{found.platform.value}]")
        typer.echo(found.text)
        for note in found.notes:
            typer.echo(f"note: {note}", err=True)
