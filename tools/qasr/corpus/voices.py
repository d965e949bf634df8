"""Voice inventory of the Debian TTS engines and per-utterance prosody sampling.

Every English voice the installed engines offer is listed here.  A fixed
subset is *held out*: it never appears in ``train``/``dev`` and is used only for
``test_unseen_voice``.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

ENGINES: tuple[str, ...] = ("espeak-ng", "flite", "festival")

ESPEAK_ACCENTS: tuple[str, ...] = ("en", "en-us", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan",
                                   "en-gb-x-gbcwmd", "en-029", "en-us-nyc")
# Fallback when `espeak-ng --voices=variant` cannot be run (espeak-ng 1.51 list).
_ESPEAK_VARIANTS_FALLBACK: tuple[str, ...] = tuple(
    "adam Alex Alicia Andrea Andy Annie antonio aunty belinda benjamin boris caleb david Demonic "
    "Denis Diogo ed edward edward2 Gene Gene2 gustave announcer Henrique Hugo iven iven2 iven3 iven4 "
    "Jacky john kaukovalta Lee linda marcelo Marco Mario max Michael michel miguel Mike Mr Nguyen "
    "pablo paul pedro quincy RicishayMax RicishayMax2 RicishayMax3 rob robert robosoft robosoft2 "
    "robosoft3 robosoft4 robosoft5 robosoft6 robosoft7 robosoft8 steph steph2 steph3 Storm Tweaky "
    "UniRobot zac anika anikaRobot AnxiousAndy f2 f3 f4 f5 whisperf grandpa klatt klatt2 klatt3 "
    "klatt4 klatt5 klatt6 m2 m3 m4 m5 m6 m7 norbert sandro shelby travis victor whisper m8 f1 croak "
    "m1 grandma".split())
# "fast" is espeak-ng's speed-test variant, not a voice.
ESPEAK_VARIANT_SKIP = {"fast"}
ESPEAK_HELDOUT_ACCENTS = {"en-029", "en-gb-x-gbcwmd"}
ESPEAK_HELDOUT_VARIANTS = {"klatt4", "f4", "m6", "Andrea", "edward2"}
# Probability that an espeak-ng utterance uses the accent's base voice (no +variant).
ESPEAK_BASE_PROB = 0.15

# flite built-in voices.  awb_time is a limited-domain (talking clock) voice: excluded.
FLITE_VOICES: tuple[str, ...] = ("kal", "kal16", "awb", "rms", "slt")
FLITE_HELDOUT = {"rms"}
FLITE_F0: dict[str, float] = {"kal": 105.0, "kal16": 105.0, "awb": 110.0, "rms": 100.0, "slt": 170.0}

FESTIVAL_VOICES: tuple[str, ...] = ("kal_diphone", "ked_diphone", "cmu_us_slt_arctic_hts")
FESTIVAL_HELDOUT = {"ked_diphone"}
FESTIVAL_F0: dict[str, float] = {"kal_diphone": 105.0, "ked_diphone": 105.0}


@lru_cache(maxsize=1)
def espeak_variants() -> tuple[str, ...]:
    """Variant file ids (``!v/<id>``) known to the installed espeak-ng."""
    try:
        out = subprocess.run(["espeak-ng", "--voices=variant"], capture_output=True, text=True,
                             check=True, timeout=30).stdout
        ids = [ln.split()[4].split("/", 1)[1] for ln in out.splitlines()[1:] if "!v/" in ln]
    except (OSError, subprocess.SubprocessError, IndexError):
        ids = list(_ESPEAK_VARIANTS_FALLBACK)
    return tuple(v for v in ids if v not in ESPEAK_VARIANT_SKIP)


@dataclass(frozen=True)
class VoicePools:
    """Seen (train/dev/test_seen) and unseen (test_unseen) voices per engine.

    For espeak-ng a voice is ``accent`` or ``accent+variant``; the pools hold
    accents and variants separately.
    """

    espeak_accents_seen: tuple[str, ...]
    espeak_accents_unseen: tuple[str, ...]
    espeak_variants_seen: tuple[str, ...]
    espeak_variants_unseen: tuple[str, ...]
    flite_seen: tuple[str, ...]
    flite_unseen: tuple[str, ...]
    festival_seen: tuple[str, ...]
    festival_unseen: tuple[str, ...]


def voice_pools() -> VoicePools:
    """Split the inventory into seen and held-out voices."""
    variants = espeak_variants()
    return VoicePools(
        espeak_accents_seen=tuple(a for a in ESPEAK_ACCENTS if a not in ESPEAK_HELDOUT_ACCENTS),
        espeak_accents_unseen=tuple(a for a in ESPEAK_ACCENTS if a in ESPEAK_HELDOUT_ACCENTS),
        espeak_variants_seen=tuple(v for v in variants if v not in ESPEAK_HELDOUT_VARIANTS),
        espeak_variants_unseen=tuple(v for v in variants if v in ESPEAK_HELDOUT_VARIANTS),
        flite_seen=tuple(v for v in FLITE_VOICES if v not in FLITE_HELDOUT),
        flite_unseen=tuple(v for v in FLITE_VOICES if v in FLITE_HELDOUT),
        festival_seen=tuple(v for v in FESTIVAL_VOICES if v not in FESTIVAL_HELDOUT),
        festival_unseen=tuple(v for v in FESTIVAL_VOICES if v in FESTIVAL_HELDOUT),
    )


def is_heldout(engine: str, voice: str) -> bool:
    """True if the voice belongs to the held-out (unseen) set."""
    if engine == "espeak-ng":
        accent, _, variant = voice.partition("+")
        return accent in ESPEAK_HELDOUT_ACCENTS or variant in ESPEAK_HELDOUT_VARIANTS
    if engine == "flite":
        return voice in FLITE_HELDOUT
    return voice in FESTIVAL_HELDOUT


def sample_voice(rng: np.random.Generator, engine: str, unseen: bool, pools: VoicePools) -> str:
    """Draw a voice of ``engine`` from the seen or the unseen pool."""
    if engine == "espeak-ng":
        if not unseen:
            accent = str(rng.choice(pools.espeak_accents_seen))
            if rng.random() < ESPEAK_BASE_PROB:
                return accent
            return accent + "+" + str(rng.choice(pools.espeak_variants_seen))
        # unseen: a held-out accent (any variant) or a seen accent with a held-out variant
        if rng.random() < 0.5:
            accent = str(rng.choice(pools.espeak_accents_unseen))
            variants = pools.espeak_variants_seen + pools.espeak_variants_unseen
            return accent if rng.random() < ESPEAK_BASE_PROB else accent + "+" + str(rng.choice(variants))
        return str(rng.choice(pools.espeak_accents_seen)) + "+" + str(rng.choice(pools.espeak_variants_unseen))
    if engine == "flite":
        return str(rng.choice(pools.flite_unseen if unseen else pools.flite_seen))
    return str(rng.choice(pools.festival_unseen if unseen else pools.festival_seen))


def sample_prosody(rng: np.random.Generator, engine: str, voice: str) -> dict[str, float]:
    """Random rate/pitch/intonation settings for one utterance (engine-specific keys)."""
    if engine == "espeak-ng":
        return {"rate": float(rng.integers(135, 206)), "pitch": float(rng.integers(25, 76)),
                "range": float(rng.integers(30, 91)), "gap": float(rng.choice([0, 0, 0, 1, 2]))}
    if engine == "flite":
        f0 = FLITE_F0.get(voice, 110.0)
        return {"stretch": round(float(rng.uniform(0.85, 1.2)), 3),
                "f0_mean": round(f0 * float(rng.uniform(0.85, 1.2)), 1),
                "f0_std": round(float(rng.uniform(10.0, 30.0)), 1)}
    if voice in FESTIVAL_F0:
        return {"stretch": round(float(rng.uniform(0.85, 1.2)), 3),
                "f0_mean": round(FESTIVAL_F0[voice] * float(rng.uniform(0.8, 1.25)), 1),
                "f0_std": round(float(rng.uniform(8.0, 25.0)), 1)}
    # HTS voice ignores Duration_Stretch: tempo and pitch are changed with sox afterwards.
    return {"tempo": round(float(rng.uniform(0.85, 1.15)), 3), "cents": float(rng.integers(-250, 151))}
