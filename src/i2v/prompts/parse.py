"""Parse a motion prompt: camera moves in order, subject and scene motion, speed, style, quotes."""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from i2v.domain.motion import Intensity
from i2v.prompts import lexicon as lx
from i2v.prompts.camera import (
    AT_CAMERA,
    CAMERA_MENTION,
    OBJECT,
    VERBS,
    CameraKind,
    CameraMove,
    Verb,
    direction,
    noun_pan,
    pan_kind,
    target_of,
)

__all__ = ["CameraKind", "CameraMove", "ParsedPrompt", "parse"]


@dataclass(frozen=True, slots=True)
class ParsedPrompt:
    text: str  # the prompt with its whitespace collapsed
    camera: tuple[CameraMove, ...] = ()
    camera_mentioned: bool = False  # "drone shot", "the camera ...": a camera named, moves or not
    subject: str | None = None  # "the woman", "the dog"; pronouns resolved simply
    subject_motion: tuple[str, ...] = ()
    scene_motion: tuple[str, ...] = ()  # hair in the wind, rippling water, flickering flames
    speed_words: tuple[str, ...] = ()
    intensity: Intensity = Intensity.NORMAL
    style: tuple[str, ...] = ()
    quoted: tuple[str, ...] = ()  # on-screen text, verbatim, without its quote marks

    @property
    def camera_named(self) -> bool:
        return bool(self.camera) or self.camera_mentioned

    @property
    def understood(self) -> bool:
        parts = (self.camera, self.subject_motion, self.scene_motion, self.speed_words)
        return any(parts) or any((self.style, self.quoted, self.subject, self.camera_mentioned))


_QUOTED = re.compile(r'"([^"]+)"|“([^”]+)”|«([^»]+)»')
_BOUNDARY = re.compile(
    r"[.,;:!?\n]|\b(?:then|before|after|while|as|until|finally|next|meanwhile|when|once)\b"
)
_BREEZE = re.compile(r"\b(?:in|with)\s+the\s+(?:wind|breeze)\b|\bwindy\b|\bbreeze\b")
_SUBJECT_VERB = lx.words_regex(lx.SUBJECT_VERBS + lx.verb_forms("follow"))
_NOUN = lx.words_regex(lx.SUBJECT_NOUNS)
_PRONOUN = lx.words_regex(frozenset(lx.PRONOUNS))
_WORD = re.compile(r"[a-z0-9']+")
_DANGLING = lx.words("the a an and to of in on over with at into from her his their its")


def parse(prompt: str) -> ParsedPrompt:
    """Read what a prompt asks for; text inside quotes is kept verbatim and never parsed."""
    text = " ".join(prompt.split())
    quoted = tuple(next(g for g in m.groups() if g) for m in _QUOTED.finditer(text))
    low = _QUOTED.sub(lambda m: " " * len(m.group()), text).lower()
    scan = _Scan(low)
    camera, taken = scan.camera()
    subject_motion, scene_motion = scan.motion(taken)
    noun = _NOUN.search(low)
    pronoun = _PRONOUN.search(low)
    subject = f"the {noun.group()}" if noun else lx.PRONOUNS[pronoun.group()] if pronoun else None
    speed = tuple(m.group() for m in re.finditer(f"{lx.SUBTLE.pattern}|{lx.STRONG.pattern}", low))
    intensity = Intensity.NORMAL
    if lx.STRONG.search(low):
        intensity = Intensity.STRONG
    elif speed:
        intensity = Intensity.SUBTLE
    return ParsedPrompt(
        text=text,
        camera=camera,
        camera_mentioned=bool(CAMERA_MENTION.search(AT_CAMERA.sub(" ", low))),
        subject=subject,
        subject_motion=subject_motion,
        scene_motion=scene_motion,
        speed_words=speed,
        intensity=intensity,
        style=tuple(dict.fromkeys(m.group() for m in lx.STYLE.finditer(low))),
        quoted=quoted,
    )


class _Scan:
    """One lower-cased prompt, with its clause boundaries."""

    def __init__(self, low: str) -> None:
        self.low = low
        spans = [m.span() for m in _BOUNDARY.finditer(low)]
        self.starts = [s for s, _ in spans]
        self.ends = [e for _, e in spans]

    def clause_start(self, pos: int) -> int:
        i = bisect.bisect_right(self.ends, pos)
        return self.ends[i - 1] if i else 0

    def clause_end(self, pos: int) -> int:
        i = bisect.bisect_left(self.starts, pos)
        return self.starts[i] if i < len(self.starts) else len(self.low)

    def who(self, start: int, end: int, taken: list[tuple[int, int]]) -> str:
        """Who acts before a verb in its clause: "camera", "none" (only fillers) or "other"."""
        chars = list(self.low[start:end])
        for a, b in taken:
            for i in range(max(a, start), min(b, end)):
                chars[i - start] = " "
        words = _WORD.findall(AT_CAMERA.sub(" ", "".join(chars)))
        if any(w in lx.CAMERA_WORDS for w in words):
            return "camera"
        return "other" if any(map(_content, words)) else "none"

    def camera(self) -> tuple[tuple[CameraMove, ...], list[tuple[int, int]]]:
        hits = sorted(
            ((m.start(), m.end(), v) for v in VERBS for m in v.pattern.finditer(self.low)),
            key=lambda h: (h[0], h[0] - h[1]),
        )
        kept: list[tuple[int, int, Verb]] = []
        for hit in hits:  # the longest of overlapping matches: "zoom out" over "zoom"
            if not kept or hit[0] >= kept[-1][1]:
                kept.append(hit)
        moves: list[CameraMove] = []
        taken: list[tuple[int, int]] = []
        for i, (start, end, verb) in enumerate(kept):
            if taken and start < taken[-1][1]:
                continue
            nxt = kept[i + 1][0] if i + 1 < len(kept) else len(self.low)
            limit = min(nxt, self.clause_end(end))
            found = self._move(start, end, verb, limit, taken)
            if found is None:
                continue
            new, extent = found
            if moves and [m.kind for m in new] == [moves[-1].kind] and taken:
                between = self.who(taken[-1][1], start, [])
                if between == "none":  # "pull back to reveal": one move, said twice
                    taken.append((start, extent))
                    continue
            moves.extend(new)
            taken.append((start, extent))
        return tuple(moves), taken

    def _move(
        self, start: int, end: int, verb: Verb, limit: int, taken: list[tuple[int, int]]
    ) -> tuple[list[CameraMove], int] | None:
        low = self.low
        words = low[start:end]
        who = self.who(self.clause_start(start), start, taken)
        if (verb.needs_camera and who != "camera") or (verb.generic and who == "other"):
            return None
        if words.startswith("pan") and noun_pan(low, start, end):
            return None
        after = end
        kinds: list[CameraKind] = []
        if verb.kind in (None, CameraKind.ORBIT):
            senses, used = direction(low[end:limit])
            after = end + used
            if verb.kind is CameraKind.ORBIT:
                dx = next((x for x, _ in senses if x), 0)
                kinds = [
                    CameraKind.ORBIT
                    if not dx
                    else CameraKind.ORBIT_LEFT
                    if dx < 0
                    else CameraKind.ORBIT_RIGHT
                ]
            elif senses:
                kinds = [pan_kind(sense) for sense in senses]
            elif words.startswith("track") and OBJECT.match(low[end:limit]):
                kinds = [CameraKind.FOLLOW]
            elif who == "camera" or not verb.generic:
                kinds = [pan_kind((0, verb.vertical))] if verb.vertical else [CameraKind.PAN]
            else:
                return None
        else:
            kinds = [verb.kind]
        target, used = target_of(low[after:limit], follow=kinds[0] is CameraKind.FOLLOW)
        moves = [
            CameraMove(kind, target, words, with_previous=n > 0) for n, kind in enumerate(kinds)
        ]
        return moves, after + used

    def motion(self, taken: list[tuple[int, int]]) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Subject motion and scene motion phrases, outside the camera moves' words."""
        subject: list[str] = []
        scene: list[str] = []
        covered = list(taken)
        for m in _SUBJECT_VERB.finditer(self.low):
            if any(a <= m.start() < b for a, b in covered):
                continue
            end = self.clause_end(m.end())
            phrase = " ".join(_trim(self.low[m.start() : end].split()[:6]))
            covered.append((m.start(), m.start() + len(phrase)))
            clause = self.low[self.clause_start(m.start()) : m.start()]
            before = [w for w in _WORD.findall(clause) if _content(w)]
            nxt = _WORD.findall(self.low[m.end() : m.end() + 20])[:1]
            last = before[-1] if before else ""
            # "the waves crash", "rising smoke"; but "she waves" is the subject's motion.
            noun = m.group() in lx.AMBIENT_NOUNS or bool(nxt and nxt[0] in lx.AMBIENT_NOUNS)
            who = last in lx.SUBJECT_NOUNS or last in lx.PRONOUNS
            if m.group() in lx.AMBIENT_VERBS or last in lx.AMBIENT_NOUNS or (noun and not who):
                scene.append(phrase)
            else:
                subject.append(phrase)
        scene.extend(m.group() for m in _BREEZE.finditer(self.low))
        return tuple(subject), tuple(scene)


def _content(word: str) -> bool:
    """A word that could be a subject: not a filler, an adverb or a speed word."""
    speed = lx.SUBTLE.fullmatch(word) or lx.STRONG.fullmatch(word)
    return not (word in lx.FILLERS or word.endswith("ly") or speed)


def _trim(words: list[str]) -> list[str]:
    while len(words) > 1 and words[-1] in _DANGLING:
        words = words[:-1]
    return words
