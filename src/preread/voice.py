"""A voice's identity: the exact settings a provider resolved, as manifests record them
and content keys hash them. A plain record of the base layer, so the store can keep
voices without knowing any engine."""

from __future__ import annotations

from dataclasses import dataclass


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

    def key_material(self) -> str:
        parts = [self.provider, self.model, self.voice, f"{self.speed:.4f}", self.format]
        if self.instructions:
            parts.append(self.instructions)
        if self.endpoint:
            parts.append("endpoint=" + self.endpoint)
        return "\x1f".join(parts)
