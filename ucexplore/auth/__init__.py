"""Tokens and the SSO hand-off: one flow per product, the paste parser, an optional token store."""

from .credentials import Credentials, resolve_auth
from .token import Token

__all__ = ["Token", "Credentials", "resolve_auth"]
