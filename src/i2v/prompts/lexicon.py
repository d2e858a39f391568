"""Word lists the prompt parser matches against: motion verbs, subjects, scenes, style, speed."""

from __future__ import annotations

import re


def words(text: str) -> frozenset[str]:
    """The words of a space-separated list: the lists below read better as prose."""
    return frozenset(text.split())


# Verbs whose final consonant doubles before -ing/-ed ("running", "nodded").
_DOUBLING = words(
    """run swim spin nod wag hug jog sit step grin drop clap flap skip trot dip slip stir bob
    chat pat tap hop"""
)


def verb_forms(*verbs: str) -> tuple[str, ...]:
    """Every regular form of each verb: base, -s, -ing and -ed ("smile" … "smiled")."""
    out: list[str] = []
    for verb in sorted(verbs):
        if verb.endswith(("s", "sh", "ch", "x", "z", "o")):
            third = verb + "es"
        elif verb.endswith("y") and verb[-2:-1] not in "aeiou":
            third = verb[:-1] + "ies"
        else:
            third = verb + "s"
        if verb in _DOUBLING:
            stem = verb + verb[-1]
            ing, past = stem + "ing", stem + "ed"
        elif verb.endswith("ie"):
            ing, past = verb[:-2] + "ying", verb + "d"
        elif verb.endswith("e") and not verb.endswith("ee"):
            ing, past = verb[:-1] + "ing", verb + "d"
        elif verb.endswith("y") and verb[-2:-1] not in "aeiou":
            ing, past = verb + "ing", verb[:-1] + "ied"
        else:
            ing, past = verb + "ing", verb + "ed"
        out.extend((verb, third, ing, past))
    return tuple(dict.fromkeys(out))


def words_regex(words: tuple[str, ...] | frozenset[str]) -> re.Pattern[str]:
    """One word-bounded alternation, longest first so that "runs" wins over "run"."""
    ordered = sorted(words, key=len, reverse=True)
    return re.compile(r"\b(?:" + "|".join(re.escape(w) for w in ordered) + r")\b")


# What a subject (person, animal, thing, the scene) does; camera verbs such as "drift" or
# "tilt" are classified by the parser before it falls back to this list.
SUBJECT_VERBS = (
    *verb_forms(
        *words(
            """smile laugh grin blink wink nod turn look glance gaze stare walk run jog sprint
            stroll jump hop leap dance wave sway spin twirl breathe talk speak sing shout
            cry weep raise lift reach sit stand kneel lean bend stretch yawn eat drink sip
            drive ride gallop trot bark wag play hug kiss throw catch climb crawl fly swim
            float dive fall flutter flow ripple roll flicker swirl rustle billow blow shake
            tremble shiver bounce splash pour burn melt bloom sparkle shimmer twinkle pulse
            wobble swing wiggle clap chew scratch approach enter emerge crash surge cascade
            tumble drip stream sail paddle skate surf wander march hover flap peck graze
            sniff stomp kick punch wipe brush comb adjust tilt move drift glide slide rise
            descend stir ruffle"""
        )
    ),
    *("ran", "swam", "flew", "fell", "sat", "stood", "blew", "shook", "swung", "rode"),
)

# Verbs that are scene motion whatever their subject ("leaves rustle", "the flame flickers").
AMBIENT_VERBS = frozenset(
    verb_forms(
        *words(
            """flutter ripple rustle flicker swirl billow shimmer sparkle twinkle cascade
            drip stream drift stir ruffle"""
        )
    )
)

# Nouns whose motion is the scene's, not the subject's ("her hair blows in the wind").
AMBIENT_NOUNS = words(
    """hair cloth clothes clothing dress skirt scarf cape coat fabric curtain curtains flag
    flags cloud clouds sky water waves wave sea ocean river lake stream waterfall rain snow
    snowflakes leaves leaf grass trees tree branches petals flowers smoke steam mist fog
    dust sand flame flames fire candle candles light lights reflections reflection ripples
    bubbles sparks embers stars"""
)

PERSON_NOUNS = words(
    """woman women man men girl girls boy boys child children kid kids baby person people
    couple lady gentleman dancer model bride groom mother father grandmother grandfather
    teenager student soldier warrior knight king queen princess prince singer musician chef
    astronaut businessman businesswoman athlete runner surfer skater cowboy witch wizard
    friend friends family character figure"""
)
ANIMAL_NOUNS = words(
    """dog dogs puppy puppies cat cats kitten kittens bird birds horse horses deer fox wolf
    lion tiger bear rabbit bunny fish owl eagle butterfly butterflies cow sheep goat duck
    swan dolphin whale elephant giraffe monkey panda penguin parrot hamster squirrel dragon
    animal"""
)
THING_NOUNS = words(
    """car cars boat ship train plane airplane robot bicycle bike motorcycle balloon kite
    windmill clock"""
)
SUBJECT_NOUNS = PERSON_NOUNS | ANIMAL_NOUNS | THING_NOUNS
PRONOUNS = {
    "she": "the woman",
    "her": "the woman",
    "herself": "the woman",
    "he": "the man",
    "him": "the man",
    "his": "the man",
    "himself": "the man",
    "they": "the subject",
    "them": "the subject",
}

# Scene cues: which ambient motion fits a picture with no person or animal named.
SCENE_CUES: dict[str, frozenset[str]] = {
    "water": words(
        """sea ocean lake river water waves beach pool waterfall stream pond harbor harbour
        shore coast bay"""
    ),
    "fire": words("fire fireplace campfire candle candles flame flames bonfire"),
    "plants": words(
        """forest trees tree garden flowers flower grass meadow field fields leaves jungle
        park orchard"""
    ),
    "sky": words(
        """sky clouds mountain mountains landscape valley horizon skyline city hills desert
        sunset sunrise dawn dusk canyon cliff island countryside"""
    ),
}
SCENE_WORDS = frozenset().union(*SCENE_CUES.values())

# Words that name the camera itself: "the camera drifts left" is a camera move.
CAMERA_WORDS = words("camera cam shot lens view viewpoint pov we frame framing")
# Words that say nothing about who moves: "then slowly drift up" has no other subject.
FILLERS = words(
    """a an the and then also now very so just it to slow slower fast faster quick gentle
    subtle soft smooth steady left right up down upward upwards downward downwards leftward
    leftwards rightward rightwards continue continues continuing begin begins starts start"""
)

SUBTLE = re.compile(r"\b(slow(ly)?|gentle|gently|subtle|subtly|soft(ly)?|calm|slight(ly)?)\b")
STRONG = re.compile(r"\b(fast|quick(ly)?|rapid(ly)?|dramatic(ally)?|dynamic|strong|intense|epic)\b")

STYLE = re.compile(
    r"\b(?:cinematic|filmic|film\s+grain|photorealistic|hyper-?realistic|realistic|anime|"
    r"cartoon|pixar|3d\s+render|watercolou?r|oil\s+painting|sketch|noir|vintage|retro|"
    r"35\s?mm|16\s?mm|documentary|dreamy|moody|ethereal|surreal|golden\s+hour|blue\s+hour|"
    r"sunset|sunrise|dusk|dawn|night|neon|backlit|rim\s+light|soft\s+light|natural\s+light|"
    r"dramatic\s+lighting|studio\s+lighting|volumetric\s+light(?:ing)?|low[- ]key|high[- ]key|"
    r"warm\s+tones?|cool\s+tones?|black\s+and\s+white|monochrome|pastel|hdr|4k|8k|bokeh|"
    r"shallow\s+depth\s+of\s+field|slow\s+motion|time-?lapse|close-?up|wide\s+shot|"
    r"medium\s+shot|low[- ]angle|high[- ]angle|aerial|overhead)\b"
)
