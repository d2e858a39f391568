"""The word lists captions read prompts with: topics, moods, stop-words, camera talk."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Topic:
    words: frozenset[str]  # any of these in the prompt names the topic; phrases allowed
    tags: tuple[str, ...]  # specific tags, best first
    mood: str  # how a caption about it sounds (see caption_templates)
    emoji: str


def _t(words: str, tags: str, mood: str, emoji: str) -> Topic:
    return Topic(frozenset(w.strip() for w in words.split(",")), tuple(tags.split()), mood, emoji)


def word_set(text: str) -> frozenset[str]:
    """A set of words from a block of text: a word list written as prose, for short diffs."""
    return frozenset(text.split())


# Order breaks ties: the more specific topic first.
TOPICS: dict[str, Topic] = {
    "wedding": _t(
        "wedding, bride, groom, bridal, veil, first dance, boda, novia",
        "#weddingvideo #weddingday #weddinginspiration",
        "romantic",
        "💍",
    ),
    "dogs": _t(
        "dog, dogs, puppy, puppies, doggo, retriever, corgi, labrador, husky, poodle, perro",
        "#doglife #doglover #puppylove",
        "playful",
        "🐶",
    ),
    "cats": _t(
        "cat, cats, kitten, kittens, kitty, gato",
        "#catlife #catlover #catvideo",
        "playful",
        "🐱",
    ),
    "cars": _t(
        "car, cars, supercar, sports car, porsche, ferrari, lamborghini, bmw, mustang, racing,"
        " race car, motorcycle, coche",
        "#carculture #carlovers #supercars",
        "energetic",
        "🏎️",
    ),
    "food": _t(
        "food, coffee, pizza, ramen, sushi, cake, dessert, breakfast, burger, pasta, soup, bread,"
        " cooking, kitchen, chef, noodles, tacos, comida",
        "#foodvideo #foodie #comfortfood",
        "cozy",
        "🍜",
    ),
    "fashion": _t(
        "fashion, dress, outfit, runway, streetwear, jacket, gown, couture, moda",
        "#fashionfilm #styleinspo #ootd",
        "dreamy",
        "👗",
    ),
    "portrait": _t(
        "portrait, face, woman, man, eyes, smile, smiling, hair, model, selfie, retrato",
        "#portraitphotography #portraitmood #cinematicportrait",
        "calm",
        "✨",
    ),
    "space": _t(
        "space, galaxy, nebula, planet, astronaut, milky way, cosmos, stars, starry",
        "#astrophotography #spaceart #cosmos",
        "dreamy",
        "🌌",
    ),
    "art": _t(
        "abstract, painting, surreal, fractal, geometric, psychedelic, watercolor, illustration,"
        " artwork, shapes, colors, colours",
        "#abstractart #digitalart #motionart",
        "dreamy",
        "🎨",
    ),
    "mountains": _t(
        "mountain, mountains, peak, peaks, alps, hiking, summit, valley, glacier, canyon, cliff,"
        " cliffs, montaña",
        "#mountainview #mountainlovers #hikingadventures",
        "epic",
        "⛰️",
    ),
    "sea": _t(
        "beach, sea, ocean, waves, wave, surf, shore, coast, coastal, seaside, island, tide,"
        " lagoon, playa, mar, olas",
        "#seascape #beachvibes #oceanview",
        "calm",
        "🌊",
    ),
    "sky": _t(
        "sunset, sunrise, dusk, dawn, golden hour, clouds, sky, aurora, northern lights,"
        " atardecer, amanecer",
        "#sunsetlovers #goldenhour #cloudscape",
        "calm",
        "🌅",
    ),
    "city": _t(
        "city, street, streets, skyline, downtown, neon, traffic, skyscraper, skyscrapers,"
        " rooftop, subway, tokyo, new york, ciudad, calle",
        "#cityscape #citylights #streetphotography",
        "moody",
        "🌃",
    ),
    "travel": _t(
        "travel, trip, journey, vacation, holiday, paris, rome, venice, santorini, bali,"
        " road trip, train, viaje",
        "#wanderlust #traveldiaries #travelvideo",
        "epic",
        "✈️",
    ),
    "wildlife": _t(
        "bird, birds, horse, horses, deer, fox, lion, tiger, elephant, whale, butterfly, owl,"
        " wolf, bear",
        "#wildlifephotography #animallovers #naturelovers",
        "calm",
        "🦋",
    ),
    "nature": _t(
        "forest, tree, trees, flower, flowers, garden, river, lake, waterfall, meadow, field,"
        " leaves, jungle, bosque, flores",
        "#naturephotography #naturelovers #forestvibes",
        "calm",
        "🌿",
    ),
}

# Topic words that are names, written with a capital wherever a caption shows them.
PROPER_NAMES = word_set(
    "tokyo paris rome venice santorini bali porsche ferrari lamborghini bmw alps"
)

# Two words that make one search term; written as one CamelCase tag.
PHRASES = (
    "golden hour", "blue hour", "night sky", "city lights", "northern lights", "milky way",
    "street food", "street style", "long exposure", "cherry blossom", "hot air balloon",
    "sports car", "vintage car", "wedding day", "first dance", "rainy day", "coffee shop",
    "ocean waves", "road trip", "new york", "slow living", "autumn leaves", "neon lights",
    "beach sunset", "mountain sunset", "city night", "snowy mountains",
)  # fmt: skip

MOOD_WORDS: dict[str, frozenset[str]] = {
    "calm": word_set(
        "calm peaceful quiet serene gentle soft mist misty fog foggy breeze tranquil relaxing"
    ),
    "energetic": word_set(
        "fast speed racing running run runs dance dancing jump jumping party crowd action rush"
    ),
    "romantic": word_set("love couple kiss kissing romantic heart hug hugging together"),
    "moody": word_set("dark night storm stormy noir neon shadow shadows moody rainy midnight"),
    "playful": word_set("funny cute playful happy laugh laughing silly joy goofy"),
    "dreamy": word_set(
        "dream dreamy surreal magic magical ethereal glow glowing floating fantasy fairy pastel"
    ),
    "epic": word_set("epic vast massive huge dramatic majestic towering giant thunder"),
    "cozy": word_set("cozy cosy warm coffee fireplace home blanket candle tea soup"),
}

# Short on purpose: words that say nothing a viewer would search for. A few Spanish ones, so a
# Spanish prompt still yields its nouns.
STOP_WORDS = word_set(
    """a an the and or but of in on at to for with without from by into onto over under up
    down out off as is are was were be been being it its it's this that these those there here
    his her hers him she he they them their we our you your i me my very so too just some any
    all each more most while then than when where who what which how not no yes do does did can
    could should would will make makes making let lets have has had get gets like through across
    around toward towards against between behind near about also only one two really please
    above below beneath inside outside along upon among during after before within next
    video clip image photo picture scene animate animated animation ai generate create show
    beautiful amazing stunning gorgeous awesome incredible nice cool great perfect lovely pretty
    epic super ultra best look looks looking vibes vibe aesthetic
    el la los las un una unos unas de del en y o con por para al que se su sus es"""
)

# Words about the camera or the render, never about what the video shows.
CAMERA_WORDS = word_set(
    """camera cam shot shots pan pans panning panned zoom zooms zooming zoomed push pushes
    pushing pull pulls pulling dolly dollying tilt tilts tilting track tracking orbit orbiting
    crane handheld static steady steadicam fps 4k 8k hd uhd cinematic footage frame framing
    closeup close-up angle lens focus slow slowly fast quickly gentle gently subtle subtly smooth
    smoothly left right upward downward motion movement move moves loop seamless realistic
    photorealistic hyperrealistic detailed quality masterpiece resolution render rendered"""
)

# "make her hair blow" is an instruction; "her hair blowing in the wind" is what one sees.
GERUNDS = {
    "blow": "blowing in the wind",
    "move": "moving",
    "run": "running",
    "dance": "dancing",
    "smile": "smiling",
    "wave": "waving",
    "sway": "swaying",
    "fly": "flying",
    "flow": "flowing",
    "walk": "walking",
    "turn": "turning",
    "look": "looking",
    "laugh": "laughing",
    "spin": "spinning",
    "jump": "jumping",
    "swim": "swimming",
    "fall": "falling",
    "drift": "drifting",
    "ripple": "rippling",
    "flicker": "flickering",
    "glow": "glowing",
    "shine": "shining",
    "blink": "blinking",
    "rise": "rising",
    "bloom": "blooming",
    "breathe": "breathing",
    "sparkle": "sparkling",
    "shimmer": "shimmering",
    "rain": "raining",
    "snow": "snowing",
    "float": "floating",
    "flutter": "fluttering",
    "wag": "wagging",
    "come": "coming",
    "burn": "burning",
    "crash": "crashing",
    "roll": "rolling",
}
