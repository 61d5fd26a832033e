"""What every lab app shares: settings, the organisation, token issuers, and the SSO trust with the IdP.

The identity provider and the products trust each other the way SAML parties do: the IdP signs an assertion
naming the user and the audience (the product), the product's assertion consumer service verifies it. Here the
signature is an HMAC with a key made when the lab starts.

Example::

    >>> ctx = LabContext(LabConfig(users=10))
    >>> blob = ctx.sign_assertion("jkam", audience="cucm")
    >>> ctx.verify_assertion(blob, audience="cucm")
    'jkam'
    >>> ctx.verify_assertion(blob, audience="unity") is None
    True
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import secrets
import time
from hashlib import sha256
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request

from .config import LabConfig
from .org import Organisation
from .tokens import Issuer

__all__ = ["LabContext", "CUCM_CLIENT_ID", "JABBER_CLIENT_ID", "ACS_PATHS", "bearer_token",
           "basic_credentials"]

#: Fixed client_id values of the UC SSO implicit grant (cisco-api-notes §1.2); no others are accepted.
CUCM_CLIENT_ID = "C69908c4f345729af0a23cdfff1d255272de942193e7d39171ddd307bc488d7a1"
JABBER_CLIENT_ID = "C41eb54529dd9907e01d3744ead3a991ba9cc4c772b0497ebe8a103fa69fe81a8"

#: Each product's assertion consumer service (the path the IdP sends the browser back to).
ACS_PATHS = {
    "cucm": "/ssosp/saml/SSO/alias/cucm-pub.lab.local",
    "unity": "/ssosp/saml/SSO/alias/cuc-pub.lab.local",
    "finesse": "/desktop/sso/acs",
    "webex": "/v1/sso/acs",
}


class LabContext:
    """Shared state of one running lab."""

    def __init__(self, config: LabConfig) -> None:
        self.config = config
        self.org = Organisation(users=config.users, seed=config.seed, anchor=config.anchor)
        self.org.set_user_password(config.user_password)
        ttl, rttl = config.token_ttl, config.refresh_ttl
        self.issuers = {
            "cucm": Issuer("cucm", ttl["cucm"]),
            "unity": Issuer("unity", ttl["unity"]),
            "finesse": Issuer("finesse", ttl["finesse"], rttl.get("finesse")),
            "webex": Issuer("webex", ttl["webex"], rttl.get("webex")),
        }
        self.urls: dict[str, str] = {}  #: product → base URL, filled in when the servers are bound
        self._key = secrets.token_bytes(32)
        self.webex_client_id = "C" + sha256(f"ucx-lab-webex:{config.seed}".encode()).hexdigest()
        self.webex_client_secret = secrets.token_hex(32)
        self.xml_session_tickets: dict[str, tuple[str, float]] = {}  #: ticket → (user name, expiry)
        self.started_at = time.time()

    # -- URLs ---------------------------------------------------------------------------------------
    @property
    def redirect_uri(self) -> str:
        """The lab's own callback page, registered with every product."""
        return self.urls["idp"] + "/callback"

    def registered_redirect_uris(self) -> set[str]:
        """Redirect URIs every product accepts ("Redirect URIs for Third Party SSO Client")."""
        return {self.redirect_uri, *self.config.redirect_uris}

    def idp_login_url(self, sp: str, relay_state: str) -> str:
        """Where a product sends the browser to authenticate (SAML AuthnRequest, redirect binding)."""
        return f"{self.urls['idp']}/idp/sso?{urlencode({'sp': sp, 'RelayState': relay_state})}"

    def acs_url(self, sp: str) -> str:
        """The assertion consumer service of product ``sp``."""
        return self.urls[sp] + ACS_PATHS[sp]

    # -- the SAML-like trust ----------------------------------------------------------------------
    def sign_assertion(self, username: str, audience: str, ttl: int = 300) -> str:
        """A signed, short-lived statement "``username`` authenticated, for ``audience``"."""
        body = json.dumps({"sub": username, "aud": audience, "exp": time.time() + ttl,
                           "jti": secrets.token_hex(8)}, separators=(",", ":")).encode()
        sig = hmac.new(self._key, body, sha256).digest()
        return base64.urlsafe_b64encode(body).decode() + "." + base64.urlsafe_b64encode(sig).decode()

    def verify_assertion(self, blob: str | None, audience: str) -> str | None:
        """The user name in a valid assertion for ``audience``, else None."""
        if not blob or "." not in blob:
            return None
        try:
            body_b64, sig_b64 = blob.split(".", 1)
            body = base64.urlsafe_b64decode(body_b64)
            sig = base64.urlsafe_b64decode(sig_b64)
            claims = json.loads(body)
        except (ValueError, binascii.Error):
            return None
        if not hmac.compare_digest(sig, hmac.new(self._key, body, sha256).digest()):
            return None
        if claims.get("aud") != audience or claims.get("exp", 0) < time.time():
            return None
        return str(claims.get("sub"))


def bearer_token(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer …`` header, or None."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


def basic_credentials(request: Request) -> tuple[str, str] | None:
    """(user, password) of an ``Authorization: Basic …`` header, or None."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, password = base64.b64decode(value.strip()).decode("utf-8").partition(":")
    except (ValueError, UnicodeDecodeError, binascii.Error):
        return None
    return user, password


def request_base_url(request: Request) -> str:
    """scheme://host:port of the request, for ``uri`` attributes in bodies."""
    return f"{request.url.scheme}://{request.url.netloc}"


def xml_escape(value: Any) -> str:
    """Escape text for an XML element or attribute."""
    s = "" if value is None else str(value)
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
