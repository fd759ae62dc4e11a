"""Settings, read once (flags, else environment, else defaults) into one object.

``Settings.load(env, **flags)`` is the only place that reads the environment;
everything else receives a ``Settings`` (or the ``VoiceSettings`` inside it).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from preread.errors import BadSettings
from preread.limits import ProviderLimits, load_limits
from preread.units import parse_size

DEFAULT_MAX_BYTES = 5 * 10**9
DEFAULT_PIN_MINUTES = 30.0
DEFAULT_GRACE_MINUTES = 10.0  # cleanup leaves anything changed this recently alone
MIN_GRACE_MINUTES = 1.0
FORMATS = ("mp3", "opus")


@dataclass(frozen=True)
class VoiceSettings:
    """What decides how a text sounds. Same text + same VoiceSettings = same audio."""

    provider: str = "piper"
    model: str | None = None  # None: the provider's default
    voice: str | None = None  # None: the provider's default
    speed: float = 1.0
    format: str = "mp3"
    instructions: str | None = None

    def validate(self) -> None:
        if not 0.25 <= self.speed <= 4.0:
            raise BadSettings(f"bad speed {self.speed}: must be between 0.25 and 4.0")
        if self.format not in FORMATS:
            raise BadSettings(f"bad format {self.format!r}: use one of {', '.join(FORMATS)}")


TOC_MODES = ("skip", "titles")
FOOTNOTE_MODES = ("read", "drop")
CITATION_MODES = ("keep", "drop")


def _choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    text = str(value).strip().lower()
    if text not in choices:
        raise BadSettings(f"bad {name} {value!r}: use one of {', '.join(choices)}")
    return text


@dataclass(frozen=True)
class TextSettings:
    """How a document's text is read (every reader, every format).

    ``toc``: a table of contents is skipped (default) or read as its entries' titles;
    ``footnotes``: read after the paragraph that references them, announced as a note
    (default), or dropped; ``citations``: bracketed numeric citations (``[12]``) kept
    (default) or dropped; ``language``: an ISO 639-1 code that overrides detection.
    """

    toc: str = "skip"
    footnotes: str = "read"
    citations: str = "keep"
    language: str | None = None

    @classmethod
    def load(
        cls, env: Mapping[str, str] | None = None, language: str | None = None
    ) -> TextSettings:
        env = os.environ if env is None else env
        raw = language if language is not None else env.get("PREREAD_LANGUAGE") or None
        lang = None
        if raw is not None:
            lang = raw.strip().lower().replace("_", "-").split("-")[0]
            if not (2 <= len(lang) <= 3 and lang.isalpha() and lang.isascii()):
                raise BadSettings(f"bad language {raw!r}: an ISO 639-1 code like en, fr, de")
        return cls(
            toc=_choice("PREREAD_TOC", env.get("PREREAD_TOC") or "skip", TOC_MODES),
            footnotes=_choice(
                "PREREAD_FOOTNOTES", env.get("PREREAD_FOOTNOTES") or "read", FOOTNOTE_MODES
            ),
            citations=_choice(
                "PREREAD_CITATIONS", env.get("PREREAD_CITATIONS") or "keep", CITATION_MODES
            ),
            language=lang,
        )


LANGUAGE_VOICE_PREFIX = "PREREAD_VOICE_"


def language_voices(env: Mapping[str, str]) -> tuple[tuple[str, VoiceSettings], ...]:
    """``PREREAD_VOICE_FR=openai:nova`` → ``(("fr", VoiceSettings("openai", voice="nova")),)``.

    The value is ``provider``, ``provider:voice`` or ``provider:model:voice``; speed and
    format are the document's.
    """
    found: list[tuple[str, VoiceSettings]] = []
    for name, value in sorted(env.items()):
        if not name.startswith(LANGUAGE_VOICE_PREFIX) or not value.strip():
            continue
        code = name[len(LANGUAGE_VOICE_PREFIX) :].lower()
        parts = [p.strip() for p in value.strip().split(":")]
        if not (2 <= len(code) <= 3 and code.isalpha() and code.isascii()):
            raise BadSettings(f"bad {name}: the name ends with a language code (PREREAD_VOICE_FR)")
        if not 1 <= len(parts) <= 3 or not all(parts):
            raise BadSettings(
                f"bad {name} {value!r}: use provider, provider:voice or provider:model:voice"
                " (e.g. openai:nova, espeak)"
            )
        model = parts[1] if len(parts) == 3 else None
        voice = parts[-1] if len(parts) > 1 else None
        found.append((code, VoiceSettings(provider=parts[0].lower(), model=model, voice=voice)))
    return tuple(found)


def _workers(value: Any) -> int | None:
    if value is None:
        return None
    try:
        workers = int(value)
    except ValueError:
        raise BadSettings(f"bad PREREAD_SYNTH_WORKERS {value!r}: a whole number 1–8") from None
    if not 1 <= workers <= 8:
        raise BadSettings(f"bad PREREAD_SYNTH_WORKERS {value!r}: a whole number 1–8")
    return workers


MAX_SERVE_WORKERS = 32


def _serve_workers(value: Any) -> int:
    if value is None:
        return 1
    try:
        workers = int(value)
    except ValueError:
        workers = 0
    if not 1 <= workers <= MAX_SERVE_WORKERS:
        raise BadSettings(
            f"bad PREREAD_SERVE_WORKERS {value!r}: a whole number 1–{MAX_SERVE_WORKERS}"
        )
    return workers


def _flag(value: Any, name: str) -> bool:
    if value is None or isinstance(value, bool):
        return bool(value)
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise BadSettings(f"bad {name} {value!r}: use 1 or 0")


def _float_or(value: Any, default: float) -> float:
    try:
        return float(value) if value is not None else default
    except ValueError:
        raise BadSettings(f"bad number {value!r}") from None


def _fake_seconds(value: Any) -> float | None:
    if value is None or value == "":
        return None
    seconds = _float_or(value, 0.0)
    if not 0.01 <= seconds <= 60:
        raise BadSettings(f"bad PREREAD_FAKE_SECONDS {value!r}: from 0.01 to 60")
    return seconds


@dataclass(frozen=True)
class Settings:
    home: Path
    voice: VoiceSettings = field(default_factory=VoiceSettings)
    text: TextSettings = field(default_factory=TextSettings)
    max_bytes: int = DEFAULT_MAX_BYTES
    pin_minutes: float = DEFAULT_PIN_MINUTES
    grace_minutes: float = DEFAULT_GRACE_MINUTES
    api_token: str | None = field(default=None, repr=False)
    openai_api_key: str | None = field(default=None, repr=False)
    openai_base_url: str | None = None
    cors_origins: tuple[str, ...] = ()
    host: str = "127.0.0.1"
    port: int = 8000
    # Server processes sharing the port (``preread serve --workers``, PREREAD_SERVE_WORKERS).
    serve_workers: int = 1
    debug: bool = False
    fake_delay: float = 0.0  # test knob: seconds the fake provider sleeps per sentence
    # bench knob: every fake sentence is this many seconds of one tone made once (None: the
    # length follows the text); with fake_delay, a fixed synthesis delay at almost no CPU
    fake_seconds: float | None = None
    # An engine chain (PREREAD_PROVIDER=openai,piper): the providers after the first, in
    # order, each with its own timeout, retries and circuit breaker (``preread.limits``:
    # ``limits`` those every provider shares, ``provider_limits`` per provider).
    fallback_providers: tuple[str, ...] = ()
    limits: ProviderLimits = field(default_factory=ProviderLimits)
    provider_limits: tuple[tuple[str, ProviderLimits], ...] = ()
    # A voice per language (PREREAD_VOICE_FR=openai:nova): blocks in that language are
    # spoken by it (provider, model, voice; the document's speed and format)
    voice_by_language: tuple[tuple[str, VoiceSettings], ...] = ()
    # Piper syntheses at once in this process (None: one per core, at most 8). Each adds
    # ≈ 250 MB of peak memory: a 512 MB VM wants 1.
    synth_workers: int | None = None
    # Proxies whose X-Forwarded-For names the client ("*" behind Fly's proxy): else none.
    trusted_proxies: str | None = None
    # What is heard of EPUB, Markdown and HTML beyond the prose: code blocks, images' alt text.
    read_code: bool = False
    read_alt_text: bool = False
    # The shared tier: s3://BUCKET[/PREFIX] (PREREAD_S3_URL), reached with the standard
    # AWS variables (what Fly's Tigris sets): endpoint, region, key id, secret.
    s3_url: str | None = None
    s3_endpoint: str | None = None
    s3_region: str | None = None
    aws_access_key_id: str | None = field(default=None, repr=False)
    aws_secret_access_key: str | None = field(default=None, repr=False)
    # The job queue: postgresql://USER[:PASSWORD]@HOST[:PORT]/DB (PREREAD_QUEUE_URL); jobs
    # then run in ``preread worker`` processes. None: in the server process.
    queue_url: str | None = field(default=None, repr=False)

    @property
    def breaker_failures(self) -> int:
        return self.limits.breaker_failures

    @property
    def breaker_cooldown(self) -> float:
        return self.limits.breaker_cooldown

    def limits_for(self, provider: str) -> ProviderLimits:
        """Provider ``provider``'s timeout, retries and breaker numbers."""
        return dict(self.provider_limits).get(provider, self.limits)

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None, **flags: Any) -> Settings:
        """Flags (non-None keyword arguments) win over ``env``, which wins over defaults."""
        env = os.environ if env is None else env

        def pick(flag: str, var: str | None) -> Any:
            value = flags.get(flag)
            if value is not None:
                return value
            if var is not None and env.get(var, "") != "":
                return env[var]
            return None

        home_value = pick("home", "PREREAD_HOME")
        home = (
            Path(home_value).expanduser()
            if home_value
            else Path("~/.local/share/preread").expanduser()
        )
        speed_value = pick("speed", "PREREAD_SPEED")
        try:
            speed = float(speed_value) if speed_value is not None else 1.0
        except ValueError:
            raise BadSettings(f"bad speed {speed_value!r}: must be a number") from None
        chain = [
            name.strip()
            for name in str(pick("provider", "PREREAD_PROVIDER") or "piper").lower().split(",")
            if name.strip()
        ] or ["piper"]
        if len(set(chain)) < len(chain):
            raise BadSettings(f"provider named twice in {','.join(chain)!r}")
        limits = ProviderLimits.load(env)
        provider_limits = load_limits(env, [*chain, "piper", "openai", "fake"])
        voice = VoiceSettings(
            provider=chain[0],
            model=pick("model", "PREREAD_MODEL"),
            voice=pick("voice", "PREREAD_VOICE"),
            speed=speed,
            format=(pick("format", "PREREAD_FORMAT") or "mp3").lower(),
            instructions=pick("instructions", "PREREAD_INSTRUCTIONS"),
        )
        voice.validate()
        max_value = pick("max_size", "PREREAD_MAX_BYTES")
        max_bytes = parse_size(str(max_value)) if max_value is not None else DEFAULT_MAX_BYTES
        pin_value = pick("pin_minutes", "PREREAD_PIN_MINUTES")
        try:
            pin_minutes = float(pin_value) if pin_value is not None else DEFAULT_PIN_MINUTES
        except ValueError:
            raise BadSettings(f"bad PREREAD_PIN_MINUTES {pin_value!r}") from None
        grace_value = pick("grace_minutes", "PREREAD_GRACE_MINUTES")
        try:
            grace = float(grace_value) if grace_value is not None else DEFAULT_GRACE_MINUTES
        except ValueError:
            raise BadSettings(f"bad PREREAD_GRACE_MINUTES {grace_value!r}") from None
        if not MIN_GRACE_MINUTES <= grace < float("inf"):
            raise BadSettings(
                f"bad PREREAD_GRACE_MINUTES {grace_value!r}: at least {MIN_GRACE_MINUTES:g}"
                " (a writer's fresh files must not be removed under it)"
            )
        origins = pick("cors_origins", "PREREAD_CORS_ORIGINS") or ""
        port_value = pick("port", "PREREAD_PORT")
        try:
            port = int(port_value) if port_value is not None else 8000
        except ValueError:
            raise BadSettings(f"bad port {port_value!r}") from None
        return cls(
            home=home,
            voice=voice,
            text=TextSettings.load(env, pick("language", None)),
            max_bytes=max_bytes,
            pin_minutes=pin_minutes,
            grace_minutes=grace,
            api_token=pick("api_token", "PREREAD_API_TOKEN"),
            openai_api_key=pick("openai_api_key", "OPENAI_API_KEY"),
            openai_base_url=pick("openai_base_url", "OPENAI_BASE_URL"),
            cors_origins=tuple(o.strip() for o in str(origins).split(",") if o.strip()),
            host=pick("host", "PREREAD_HOST") or "127.0.0.1",
            port=port,
            serve_workers=_serve_workers(pick("serve_workers", "PREREAD_SERVE_WORKERS")),
            debug=bool(flags.get("debug", False)),
            fake_delay=_float_or(pick("fake_delay", "PREREAD_FAKE_DELAY"), 0.0),
            fake_seconds=_fake_seconds(pick("fake_seconds", "PREREAD_FAKE_SECONDS")),
            fallback_providers=tuple(chain[1:]),
            limits=limits,
            provider_limits=provider_limits,
            voice_by_language=language_voices(env),
            synth_workers=_workers(pick("synth_workers", "PREREAD_SYNTH_WORKERS")),
            trusted_proxies=pick("trusted_proxies", "PREREAD_TRUSTED_PROXIES"),
            read_code=_flag(pick("read_code", "PREREAD_READ_CODE"), "PREREAD_READ_CODE"),
            read_alt_text=_flag(
                pick("read_alt_text", "PREREAD_READ_ALT_TEXT"), "PREREAD_READ_ALT_TEXT"
            ),
            s3_url=pick("s3_url", "PREREAD_S3_URL"),
            s3_endpoint=pick("s3_endpoint", "AWS_ENDPOINT_URL_S3")
            or env.get("AWS_ENDPOINT_URL")
            or None,
            s3_region=env.get("AWS_DEFAULT_REGION") or env.get("AWS_REGION") or None,
            aws_access_key_id=env.get("AWS_ACCESS_KEY_ID") or None,
            aws_secret_access_key=env.get("AWS_SECRET_ACCESS_KEY") or None,
            queue_url=pick("queue_url", "PREREAD_QUEUE_URL"),
        )
