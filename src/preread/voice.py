"""A voice's identity: the exact settings a provider resolved, as manifests record them
and content keys hash them. A plain record of the base layer, so the store can keep
voices without knowing any engine."""

from __future__ import annotations

from dataclasses import dataclass

# How chunks are levelled (``preread.tts.loudness``): −16 LUFS integrated, −1.5 dBTP
# ceiling, one gain per voice, a phase rotator and a slow ±3 dB leveller (4:1), the
# engine's own level (not Piper's per-sentence peak scaling). Part of a voice's
# identity: audio made before levelling (``level == ""``), or levelled otherwise
# ("lufs-16/dbtp-1.5/1": gain and limiter only), is another voice, with its own keys.
LEVEL = "lufs-16/dbtp-1.5/rotate300x4/steady4:1-3db/peaks-4/2"


@dataclass(frozen=True)
class ResolvedVoice:
    """The exact settings a provider will use: what manifests record and keys hash."""

    provider: str
    model: str
    voice: str
    speed: float
    format: str
    instructions: str | None = None
    # Which server speaks (e.g. an OpenAI-compatible base URL, credentials stripped):
    # the same model and voice names on two servers are different voices.
    endpoint: str | None = None
    # How its audio is levelled: ``LEVEL`` for every voice resolved now; "" for audio
    # made before levelling (a manifest without ``level``), which is never levelled.
    level: str = LEVEL

    def key_material(self) -> str:
        parts = [self.provider, self.model, self.voice, f"{self.speed:.4f}", self.format]
        if self.instructions:
            parts.append(self.instructions)
        if self.endpoint:
            parts.append("endpoint=" + self.endpoint)
        if self.level:
            parts.append("level=" + self.level)
        return "\x1f".join(parts)
