"""The offline caption's wording: hooks and calls to action by mood and platform, body lines.

Placeholders: {S} the subject starting a sentence, {s} the subject inside one, {e} an emoji
for the topic (may be empty), {k} a list of searchable words. Hooks never describe the camera.
"""

from __future__ import annotations

from i2v.prompts.base import Platform

IG = Platform.INSTAGRAM
TT = Platform.TIKTOK

HOOKS: dict[str, dict[Platform, tuple[str, ...]]] = {
    "calm": {
        IG: (
            "{S}, and the world goes quiet for a second {e}",
            "Some moments deserve to move slowly: {s} {e}",
            "Take a breath: {s} {e}",
            "{S}. That's it, that's the post {e}",
        ),
        TT: ("{S}. Just breathe {e}", "POV: {s} {e}", "Your ten-second reset: {s} {e}"),
    },
    "energetic": {
        IG: (
            "{S}, and it does not slow down {e}",
            "Blink and you'll miss it: {s} {e}",
            "Pure momentum: {s} {e}",
        ),
        TT: ("Wait for it… {s} {e}", "{S}. It goes hard {e}", "POV: {s} {e}"),
    },
    "romantic": {
        IG: (
            "{S}, a moment worth keeping forever {e}",
            "If love were a moving picture: {s} {e}",
            "{S}. Still not over this one {e}",
        ),
        TT: ("{S}. I'm not crying, you are {e}", "POV: {s} {e}", "Core memory: {s} {e}"),
    },
    "moody": {
        IG: (
            "{S}, moody and quiet, exactly as it should be {e}",
            "Some places only make sense after dark: {s} {e}",
            "{S}. Turn the lights down for this one {e}",
        ),
        TT: ("{S}. Hits different {e}", "POV: {s} {e}", "Main character energy: {s} {e}"),
    },
    "playful": {
        IG: (
            "{S}, and honestly the best thing you'll see today {e}",
            "Nobody asked, but here is {s} {e}",
            "Daily dose of happiness: {s} {e}",
        ),
        TT: ("{S}. The joy is real {e}", "POV: {s} {e}", "Not me watching this 20 times: {s} {e}"),
    },
    "dreamy": {
        IG: (
            "{S}, like a dream you almost remember {e}",
            "Somewhere between a painting and a dream: {s} {e}",
            "{S}. Let it wash over you {e}",
        ),
        TT: ("{S}, but make it a dream {e}", "POV: {s} {e}", "This feels like a dream: {s} {e}"),
    },
    "epic": {
        IG: (
            "{S}, and suddenly everything feels small {e}",
            "Places that make you feel small, in the best way: {s} {e}",
            "{S}. Scale like this never gets old {e}",
        ),
        TT: ("{S}. Another level {e}", "POV: {s} {e}", "Scale check: {s} {e}"),
    },
    "cozy": {
        IG: (
            "{S}. Comfort, in motion {e}",
            "The coziest ten seconds of your day: {s} {e}",
            "{S}, the kind of warm you can almost taste {e}",
        ),
        TT: ("{S}. Comfort mode: on {e}", "POV: {s} {e}", "Instant comfort: {s} {e}"),
    },
    "wonder": {
        IG: (
            "{S}, brought to life from a single photo {e}",
            "One still photo, now moving: {s} {e}",
            "Watch {s} come to life {e}",
        ),
        TT: ("Watch {s} come to life {e}", "POV: {s} {e}", "This was a still photo: {s} {e}"),
    },
}

# When the prompt says nothing we can show, or is not in English: its words, as typed, carry it.
PLAIN_HOOK = "{S} {e}"
EMPTY_HOOKS: dict[Platform, tuple[str, ...]] = {
    IG: ("One still photo, brought to life ✨", "This was a still photo a moment ago ✨"),
    TT: ("This was a still photo a second ago ✨", "Wait for it… a photo comes to life ✨"),
}

CALLS: dict[str, dict[Platform, tuple[str, ...]]] = {
    "calm": {
        IG: (
            "Save this for the next time you need a slow minute.",
            "Where would you watch this from? Tell me below 👇",
            "Send this to someone who needs a calm moment.",
        ),
        TT: (
            "Save this for later 🤍",
            "Where would you be right now? 👇",
            "Follow for more calm ones",
        ),
    },
    "energetic": {
        IG: (
            "Would you watch this on repeat? Be honest 👇",
            "Follow for more moments like this.",
            "Send this to the friend who would love it.",
        ),
        TT: ("Follow for part 2", "Rate it 1–10 👇", "Watch it again, I dare you"),
    },
    "romantic": {
        IG: (
            "Tag the person you would share this with 💛",
            "Save this for your mood board.",
            "What song would you play over this? 👇",
        ),
        TT: ("Send this to your person", "Follow for part 2", "What song fits this? 👇"),
    },
    "moody": {
        IG: (
            "Night person or morning person? 👇",
            "Save this for a late-night scroll.",
            "Follow for more after-dark moments.",
        ),
        TT: (
            "Night owls, where you at? 👇",
            "Follow for more after-dark ones",
            "Save this for 2am",
        ),
    },
    "playful": {
        IG: (
            "Tag someone who needs this today.",
            "Drop a ❤️ if this made you smile.",
            "Follow for more tiny moments of joy.",
        ),
        TT: (
            "Send this to someone who needs a smile",
            "Follow for part 2",
            "Rate the vibe 1–10 👇",
        ),
    },
    "dreamy": {
        IG: (
            "What would you name this dream? 👇",
            "Save this for your mood board.",
            "Follow for more moving dreams.",
        ),
        TT: ("What song fits this? 👇", "Follow for more dreamy ones", "Save this for later ✨"),
    },
    "epic": {
        IG: (
            "Would you go there? Yes or no 👇",
            "Save this for your next trip.",
            "Send this to your adventure buddy.",
        ),
        TT: ("Would you go? 👇", "Follow for part 2", "Send this to your travel buddy"),
    },
    "cozy": {
        IG: (
            "Save this for a slow Sunday.",
            "What is your comfort food? 👇",
            "Send this to someone who needs a cozy moment.",
        ),
        TT: ("What's your comfort meal? 👇", "Follow for more cozy ones", "Save this for later 🤍"),
    },
    "wonder": {
        IG: (
            "Which photo should I bring to life next? 👇",
            "Save this and follow for more moving photos.",
            "What do you think happens next? 👇",
        ),
        TT: ("Which photo should I animate next? 👇", "Follow for part 2", "What happens next? 👇"),
    },
}

# The searchable line: {k} is "sunset, beach and golden hour".
KEYWORD_LINES: dict[Platform, tuple[str, ...]] = {
    IG: (
        "{K}, animated from a single still photo.",
        "{K}: one photo, brought to life.",
        "Started as a still photo: {k}.",
    ),
    TT: ("{K}, from one still photo.", "{K}, brought to life.", "Still photo to video: {k}."),
}
# The second line where the prompt had no second clause; searchable words about the topic.
TOPIC_LINES = {
    "wedding": "For everyone planning their big day.",
    "dogs": "For everyone whose dog is their whole personality.",
    "cats": "For the cat people.",
    "cars": "For the car people.",
    "food": "For the ones who eat with their eyes first.",
    "fashion": "Style in motion.",
    "portrait": "Portraits that breathe.",
    "space": "For the stargazers.",
    "art": "Color and shape, just moving.",
    "mountains": "For the ones who feel at home above the clouds.",
    "sea": "For anyone who needs the sound of the sea today.",
    "sky": "For the sky watchers.",
    "city": "For the city lovers and night owls.",
    "travel": "Adding this to the someday list.",
    "wildlife": "Wildlife, up close.",
    "nature": "A small reminder to step outside.",
}

# Both platforms ask for AI-made videos to be labelled; this line always stays.
DISCLOSURE = "Made with AI"
