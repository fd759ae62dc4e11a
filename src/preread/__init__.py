"""preread: pre-generate text-to-speech audio for documents and stream it from disk."""

__version__ = "0.1.0"
