"""Tokens and the SSO hand-off: one flow per product, the paste parser, an optional token store.

Example::

    >>> from ucexplore.auth import CucmSSO, parse_paste
    >>> parse_paste("#access_token=MjpkZTkxYjNmYS0wYzU2&expires_in=60", expect="implicit").expires_in
    60.0
"""

from .credentials import Credentials, SignInFlow, resolve_auth
from .flows import CucmSSO, FinesseSSO, SignInFlowBase, UnitySSO, WebexOAuth, flow_for, pkce_challenge
from .interactive import login_interactive
from .jtapi import provider_string as jtapi_provider_string
from .paste import Pasted, parse_paste
from .store import KeyringStore, MemoryStore, TokenStore, forget, open_store, remember
from .token import Token

__all__ = [
    "Token",
    "Credentials",
    "SignInFlow",
    "resolve_auth",
    "SignInFlowBase",
    "CucmSSO",
    "UnitySSO",
    "FinesseSSO",
    "WebexOAuth",
    "flow_for",
    "pkce_challenge",
    "Pasted",
    "parse_paste",
    "TokenStore",
    "MemoryStore",
    "KeyringStore",
    "open_store",
    "remember",
    "forget",
    "login_interactive",
    "jtapi_provider_string",
]
