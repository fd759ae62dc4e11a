"""Server test helpers: synthetic stores (no synthesis) and options for quiet apps."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from openai_server import SpeechServer
from preread.manifest import Manifest
from preread.model import Block, DocumentText
from preread.server import ServerOptions
from preread.settings import VoiceSettings
from preread.store import Store
from preread.tts.fake import FakeProvider

TEXTS = [
    "The first block speaks. It has two sentences.",
    "A second block follows here.",
    "Third block, on page two. Short.",
]


@dataclass
class SyntheticDoc:
    document_id: str
    files: dict[int, bytes]  # index -> chunk bytes
    manifest: Manifest


def fake_voice_settings(**changes: object) -> VoiceSettings:
    return VoiceSettings(provider="fake", **changes)  # type: ignore[arg-type]


def document_text(document_id: str, texts: list[str] = TEXTS) -> DocumentText:
    blocks = []
    for i, text in enumerate(texts):
        page = 1 if i < 2 else 2
        block_index = i if page == 1 else i - 2
        sentences = tuple(s.strip() + "." for s in text.split(".") if s.strip())
        blocks.append(Block(i, page, block_index, text, sentences))
    return DocumentText(document_id, "doc.pdf", "A Test Document", 2, blocks=tuple(blocks))


def write_synthetic(
    store: Store, sizes: list[int], *, seed: int = 1, register: bool = False
) -> SyntheticDoc:
    """A document whose chunks are all done: random bytes, a valid manifest."""
    document_id = hashlib.sha256(f"doc-{seed}-{sizes}".encode()).hexdigest()
    texts = [f"Block number {i} of document {seed}." for i in range(len(sizes))]
    document = document_text(document_id, texts)
    provider = FakeProvider()
    voice = provider.resolve(fake_voice_settings())
    manifest = Manifest.new(document, list(document.blocks), voice)
    files = {}
    rng = __import__("random").Random(seed)
    for entry, size in zip(manifest.chunks, sizes, strict=True):
        data = rng.randbytes(size)
        path = store.chunks_dir(document_id) / entry.file_name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        entry.status, entry.bytes = "done", size
        entry.sha256, entry.duration = hashlib.sha256(data).hexdigest(), size / 6000
        files[entry.index] = data
    store.write_manifest(manifest)
    if register:
        store.register(document, None)
    return SyntheticDoc(document_id, files, manifest)


def register_document(store: Store, seed: int = 7, texts: list[str] = TEXTS) -> str:
    document_id = hashlib.sha256(f"registered-{seed}".encode()).hexdigest()
    store.register(document_text(document_id, texts), None)
    return document_id


def asked(speech: SpeechServer) -> list[str]:
    """The texts an OpenAI-protocol test server was asked to speak, in order."""
    return [str(r.body["input"]) for r in speech.requests if r.path.endswith("/audio/speech")]


def quiet_options(**changes: object) -> ServerOptions:
    base: dict[str, object] = {"access_log": False, "cleaner_interval": None}
    base.update(changes)
    return ServerOptions(**base)  # type: ignore[arg-type]


def symlink(target: Path, link: Path) -> None:
    if link.exists():
        link.unlink()
    os.symlink(target, link)
