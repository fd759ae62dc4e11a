"""The chunk server: ``create_app(settings)`` (Starlette), run by ``preread serve``."""

from preread.server.app import create_app, settle
from preread.server.state import ServerOptions

__all__ = ["ServerOptions", "create_app", "settle"]
