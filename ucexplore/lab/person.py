"""A scripted person with a browser: follows the sign-in hops through the lab IdP's form, as a person would.

It fetches the sign-in page, follows redirects, fills and posts the IdP login form (with every hidden field
of the form, the ``csrf_token`` among them, the cookie the form page set, and the ``Origin`` of the page,
as a browser posts a same-origin form), follows the SAML hop back to the product, and returns what the
browser lands on: the redirected URL (token in the fragment, or ``code``/``state`` in the query) or, for
Finesse, the JSON body. One :class:`Person` keeps its cookies, so a
second product signs in without the form: single sign-on.

Example::

    >>> landed = sign_in(flow.authorize_url, *lab.demo_user)     # doctest: +SKIP
    >>> tok = flow.complete(landed)                                # doctest: +SKIP
"""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

__all__ = ["Person", "sign_in", "LabSignInError"]

_FORM = re.compile(r"<form[^>]*id=ucx-idp-login[^>]*action='([^']*)'[^>]*>(.*?)</form>", re.S | re.I)
_HIDDEN = re.compile(r"<input type=hidden name=(\w+) value='([^']*)'>", re.I)
_ERROR = re.compile(r"<p class=err[^>]*>(.*?)</p>", re.S)
_LANDING = ("access_token=", "code=", "error=")


class LabSignInError(RuntimeError):
    """The scripted sign-in did not reach the application (wrong password, unexpected page)."""


class Person:
    """A browser session: cookies persist across products, so the IdP signs in once."""

    def __init__(self, username: str, password: str, *, verify: Any = True, timeout: float = 30.0) -> None:
        self.username = username
        self._password = password
        self.client = httpx.Client(verify=verify, timeout=timeout, follow_redirects=False)
        self.forms_filled = 0  #: how many times the IdP asked for the password (SSO → 1)

    def sign_in(self, url: str, *, max_hops: int = 20) -> str:
        """Open ``url`` and return the URL the browser lands on, or the JSON body it shows (Finesse)."""
        response = self.client.get(url)
        for _ in range(max_hops):
            if response.is_redirect:
                target = urljoin(str(response.url), response.headers["location"])
                if self._is_landing(target):
                    return target
                response = self.client.get(target)
                continue
            ctype = response.headers.get("content-type", "")
            if response.status_code == 200 and "json" in ctype:
                return response.text
            form = _FORM.search(response.text) if "html" in ctype else None
            if form is not None:
                err = _ERROR.search(response.text)
                if err and self.forms_filled:
                    raise LabSignInError(f"the IdP refused the sign-in: {html.unescape(err.group(1))}")
                fields = {k: html.unescape(v) for k, v in _HIDDEN.findall(form.group(2))}
                fields.update(username=self.username, password=self._password)
                self.forms_filled += 1
                page = urlsplit(str(response.url))
                response = self.client.post(urljoin(str(response.url), form.group(1)), data=fields,
                                            headers={"Origin": f"{page.scheme}://{page.netloc}"})
                continue
            err = _ERROR.search(response.text) if "html" in ctype else None
            if response.status_code == 403 and err is not None:
                raise LabSignInError(f"the IdP refused the sign-in form: {html.unescape(err.group(1))}")
            raise LabSignInError(f"unexpected page during sign-in: HTTP {response.status_code} at "
                                 f"{urlsplit(str(response.url)).path}: {response.text[:200]!r}")
        raise LabSignInError("too many redirects during sign-in")

    @staticmethod
    def _is_landing(url: str) -> bool:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if host not in ("127.0.0.1", "localhost", "::1") and not host.startswith("127."):
            return True  # an application outside the lab: the browser would leave here
        if parts.path == "/callback":
            return True
        tail = parts.fragment + "&" + parts.query
        return any(tail.startswith(k) or ("&" + k) in tail for k in _LANDING) and "/idp/" not in parts.path \
            and "RelayState" not in parts.query

    def close(self) -> None:
        """Close the browser session."""
        self.client.close()

    def __enter__(self) -> "Person":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Person {self.username!r}>"


def sign_in(url: str, username: str, password: str, *, verify: Any = True) -> str:
    """One-shot :meth:`Person.sign_in` with a fresh browser session."""
    with Person(username, password, verify=verify) as person:
        return person.sign_in(url)
