"""Cisco WebDialer: click-to-dial over SOAP on the CUCM node (8443).

Requests are the legacy SOAP 1.1 rpc/encoded operations of ``urn:WD70`` posted to
``/webdialer/services/WebdialerSoapService70`` (cisco-api-notes §7). The credential travels **inside the
body** (``<in0 xsi:type="urn:Credential">``), never as a header: a CucmSSO flow or its token sends
``<token>``, ``(user, password)`` sends ``<userID>``/``<password>``. Every value is XML-escaped, and the SOAP
body is never logged (it holds the credential). Responses are read in both shapes: the legacy multiRef
encoding (``<makeCallSoapReturn href="#id0"/>`` + ``<multiRef id="id0">``) and the doc/literal ``<return>``
of CUCM 15SU5+.

A non-zero ``responseCode`` raises :class:`~ucexplore.errors.ApiError` with ``code`` (the responseCode as
text), ``server_message`` (the responseDescription) and a hint for the known codes (2 authentication,
3 proxy rights, 5 device). Success returns a Series ``responseCode`` (0) / ``responseDescription``.

Which phone dials when ``device_name`` is omitted: the device last used for that user by this client, else
the **first device of the user's WebDialer profile** (``getProfileSoap``, the proxy-capable variant of
``getProfileDetailSoap``, asked once per user and remembered), with that device's first line. ``end_call``
uses the same rule, so it hangs up the phone ``make_call`` dialled from.

Example::

    >>> import ucexplore as ux
    >>> wd = ux.WebDialer(lab.urls["cucm"], auth=flow)                        # doctest: +SKIP
    >>> wd.make_call("2002", user_id="jkam")                                 # doctest: +SKIP
    responseCode                 0
    responseDescription    Success
    >>> wd.end_call(user_id="jkam")                                          # doctest: +SKIP
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar
from xml.sax.saxutils import escape

from ..decode import error_from_response, parse_xml
from ..redact import Secret, SecretBody
from ..errors import ApiError, InvalidArgument, NotSignedIn, ParseError, TokenExpired, UcError
from ..frames import provenance as make_provenance
from ..frames import to_frame, to_series
from .base import Service, sync_twin
from .uds import token_spent

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["RESPONSE_HINTS", "WebDialer"]

#: The legacy (Axis 1) service; CUCM 15SU5+ serves ``/webdialer/services/webdialer`` instead.
SOAP_PATH = "/webdialer/services/WebdialerSoapService70"
WD_NS = "urn:WD70"
_SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
_SOAP_ENC = "http://schemas.xmlsoap.org/soap/encoding/"
_XSI = "http://www.w3.org/2001/XMLSchema-instance"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

#: responseCode → what to do (codes other than 0 and 2 are [I] in cisco-api-notes §7).
RESPONSE_HINTS = {
    1: "the call could not be placed or ended: check the destination, that the phone is registered and "
    "idle (end_call: that a call is active on that device)",
    3: "the signed-in account is not user_id and lacks the 'Standard EM Authentication Proxy Rights' role: "
    "pass your own CUCM user id as user_id=, or sign in with an account that has that role",
    4: "CUCM's directory does not know user_id: check the spelling (ux.UDS(...).users(...) lists users)",
    5: "the device is not configured for the user: pick one of wd.profile(user_id)['deviceName'] (a "
    "CTI-controllable phone associated with the user), or omit device_name= to use the first one",
}


def _text(value: Any, what: str) -> str:
    """``value`` as XML element text (escaped); control characters are refused."""
    text = str(value)
    if _CONTROL.search(text):
        raise InvalidArgument(f"{what} contains a control character, which XML cannot carry")
    return escape(text)


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _string(name: str, value: Any, what: str) -> Any:
    if isinstance(value, Secret):  # a credential: the element stays a SecretBody until the transport sends it
        return SecretBody(f'<{name} xsi:type="xsd:string">', Secret(_text(value.reveal(), what)), f"</{name}>")
    return f'<{name} xsi:type="xsd:string">{_text(value, what)}</{name}>'


def _credential_xml(cred: dict[str, Any]) -> SecretBody:
    if cred.get("token"):
        inner = _string("token", cred["token"], "the token")
    else:
        inner = SecretBody(_string("userID", cred.get("user", ""), "the user name"),
                           _string("password", cred.get("password", Secret("")), "the password"))
    return SecretBody('<in0 xsi:type="urn:Credential">', inner, "</in0>")


def _profile_xml(name: str, user_id: str, device: str | None, line: str | None) -> str:
    inner = _string("user", user_id, "user_id")
    if device:
        inner += _string("deviceName", device, "device_name")
    if line:
        inner += _string("lineNumber", line, "line_number")
    return f'<{name} xsi:type="urn:UserProfile">{inner}</{name}>'


def _envelope(op: str, params: str | SecretBody) -> SecretBody:
    return SecretBody(
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<soapenv:Envelope xmlns:soapenv="{_SOAP_ENV}" xmlns:urn="{WD_NS}" '
        f'xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="{_XSI}">'
        f'<soapenv:Body><urn:{op} soapenv:encodingStyle="{_SOAP_ENC}">',
        params,
        f"</urn:{op}></soapenv:Body></soapenv:Envelope>",
    )


def _value(el: Any, refs: dict[str, Any], depth: int = 0) -> Any:
    """A SOAP value as Python: multiRef ``href`` resolved, arrays as lists, structs as dicts, text as str."""
    if depth > 32:
        raise ParseError("the SOAP response nests too deeply (a multiRef cycle?)")
    href = el.get("href")
    if href and href.startswith("#"):
        target = refs.get(href[1:])
        if target is None:
            raise ParseError(f"the SOAP response refers to a missing multiRef {href!r}")
        el = target
    if el.get(f"{{{_XSI}}}nil") in ("true", "1"):
        return None
    kids = [c for c in el if isinstance(c.tag, str)]
    is_array = el.get(f"{{{_SOAP_ENC}}}arrayType") is not None or (
        el.get(f"{{{_XSI}}}type", "").endswith(":Array")
    )
    if is_array:
        return [_value(c, refs, depth + 1) for c in kids]
    if not kids:
        text = el.text
        return None if text is None else text.strip()
    out: dict[str, Any] = {}
    for c in kids:
        name, v = _local(c.tag), _value(c, refs, depth + 1)
        if name in out:  # doc/literal arrays: the element repeats
            prev = out[name]
            out[name] = (prev if isinstance(prev, list) else [prev]) + [v]
        else:
            out[name] = v
    return out


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def soap_result(body: bytes, *, url: str | None = None) -> Any:
    """The ``…Return`` (rpc/encoded) or ``return`` (doc/literal) value of a WebDialer response.

    Example::

        >>> soap_result(b'<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Body>'
        ...     b'<r><return><responseCode>0</responseCode><responseDescription>Success'
        ...     b'</responseDescription></return></r></e:Body></e:Envelope>')
        {'responseCode': '0', 'responseDescription': 'Success'}
    """
    root = parse_xml(body, url=url)
    soap_body = next((c for c in root if _local(c.tag) == "Body"), None)
    if _local(root.tag) != "Envelope" or soap_body is None:
        raise ParseError(
            "expected a SOAP envelope with a Body",
            excerpt=body,
            url=url,
            hint="check the URL: is this the WebDialer SOAP service?",
        )
    fault = next((c for c in soap_body if _local(c.tag) == "Fault"), None)
    if fault is not None:
        raise _fault_error(fault, status=200, url=url)
    refs = {c.get("id"): c for c in soap_body if c.get("id")}
    response = next((c for c in soap_body if isinstance(c.tag, str) and c.get("id") is None), None)
    ret = None if response is None else next((c for c in response if isinstance(c.tag, str)), None)
    if ret is None:
        raise ParseError("the SOAP response has no return value", excerpt=body, url=url)
    return _value(ret, refs)


def _fault_error(fault: Any, *, status: int, url: str | None) -> ApiError:
    fields = {_local(c.tag): (c.text or "").strip() for c in fault if isinstance(c.tag, str)}
    code, message = fields.get("faultcode") or None, fields.get("faultstring") or "SOAP fault"
    client_side = bool(code) and "client" in code.lower()
    return ApiError(
        f"WebDialer: {message}",
        status=status,
        error_type=code,
        code=code,
        server_message=message,
        service="WebDialer",
        url=url,
        hint="the request was refused as malformed: report it with the message above"
        if client_side
        else "WebDialer failed: check that the Cisco WebDialer Web Service is activated on this node",
    )


class WebDialer(Service):
    """Click-to-dial through CUCM WebDialer. ``auth`` is a CucmSSO flow, its Token, or ``(user, password)``.

    Example::

        >>> wd = WebDialer("https://cucm.example.com:8443", auth=("jkam", "pa55word"))
        >>> wd
        <WebDialer https://cucm.example.com:8443 as jkam (HTTP Basic)>
    """

    product = "webdialer"
    accept = "text/xml"
    server_hint: ClassVar[str] = "WebDialer runs on a CUCM node, usually https://<cucm>:8443"
    error_hints: ClassVar[Mapping[int, str]] = {
        404: "no WebDialer SOAP service at this URL: activate the Cisco WebDialer Web Service on this CUCM "
        "node (CUCM 15SU5+ replaced it with /webdialer/services/webdialer)",
        405: "WebDialer's SOAP service takes POST only",
    }

    def __init__(self, base_url: str | None = None, auth: Any = None, **kw: Any) -> None:
        super().__init__(base_url, auth, **kw)
        self._devices: dict[str, tuple[str, str | None]] = {}  #: user id → (device, line) to dial from

    # -- public ------------------------------------------------------------------------------------------
    async def make_call_async(
        self,
        destination: str,
        *,
        user_id: str,
        device_name: str | None = None,
        line_number: str | None = None,
    ) -> pd.Series:
        """Dial ``destination`` from ``user_id``'s phone (``device_name``; default: see the module docs).

        Returns a Series (``responseCode`` 0, ``responseDescription``); a refusal raises ApiError.

        Example::

            >>> wd.make_call("+1 408 555 0100", user_id="jkam", device_name="SEP0CD0F894A1B2")  # doctest: +SKIP
        """
        if not str(destination or "").strip():
            raise InvalidArgument("make_call() needs a destination (digits to dial)")
        user_id = self._user_id(user_id)
        cred = await self._credential()
        device, line = await self._device(user_id, device_name, line_number, cred)
        params = (
            _credential_xml(cred)
            + _string("in1", str(destination).strip(), "destination")
            + _profile_xml("in2", user_id, device, line)
        )
        result = await self._soap("makeCallSoap", params, idempotent=False)
        info = {"destination": str(destination).strip(), "user_id": user_id, "device_name": device}
        out = self._outcome("makeCallSoap", result, info, forget=user_id if device_name is None else None)
        self._devices[user_id.casefold()] = (device, line)
        return out

    make_call = sync_twin(make_call_async)

    async def end_call_async(
        self, *, user_id: str, device_name: str | None = None, line_number: str | None = None
    ) -> pd.Series:
        """Hang up the active call on ``user_id``'s phone (default: the one this client last dialled from).

        Example::

            >>> wd.end_call(user_id="jkam")                                      # doctest: +SKIP
        """
        user_id = self._user_id(user_id)
        cred = await self._credential()
        device, line = await self._device(user_id, device_name, line_number, cred)
        params = _credential_xml(cred) + _profile_xml("in1", user_id, device, line)
        result = await self._soap("endCallSoap", params, idempotent=False)
        info = {"user_id": user_id, "device_name": device}
        return self._outcome("endCallSoap", result, info, forget=None)

    end_call = sync_twin(end_call_async)

    async def profile_async(self, user_id: str | None = None) -> pd.DataFrame:
        """The phones WebDialer can dial from: one row per device (``deviceName``, ``lines``, and for your
        own profile ``phoneDesc``/``phoneType``); empty when the user has no device. ``user_id=None``: the
        signed-in user (``getProfileDetailSoap``); another user needs proxy rights (``getProfileSoap``).

        Example::

            >>> wd.profile()[["deviceName", "lines"]]                            # doctest: +SKIP
        """
        cred = await self._credential()
        if user_id is None:
            op, params = "getProfileDetailSoap", _credential_xml(cred)
        else:
            user_id = self._user_id(user_id)
            op, params = "getProfileSoap", _credential_xml(cred) + _string("in1", user_id, "user_id")
        result = await self._soap(op, params, idempotent=True)
        try:
            devices = self._profile_devices(op, result)
        except ApiError as exc:
            if exc.code != "5":
                raise
            devices = []  # "no device is configured for the user": an empty profile
        prov = self._provenance(op, {"user_id": user_id}, rows=len(devices))
        return to_frame(devices, columns=("deviceName", "lines", "phoneDesc", "phoneType"), provenance=prov)

    profile = sync_twin(profile_async)

    async def is_cluster_user_async(self, user_id: str) -> bool:
        """Whether ``user_id`` is an end user of this cluster (``isClusterUserSoap``, no credential needed).

        Example::

            >>> wd.is_cluster_user("jkam")                                       # doctest: +SKIP
            True
        """
        user_id = self._user_id(user_id)
        result = await self._soap("isClusterUserSoap", _string("in0", user_id, "user_id"), idempotent=True)
        return str(result).strip().lower() == "true"

    is_cluster_user = sync_twin(is_cluster_user_async)

    # -- machinery ---------------------------------------------------------------------------------------
    @staticmethod
    def _user_id(user_id: Any) -> str:
        if not isinstance(user_id, str) or not user_id.strip():
            raise InvalidArgument("WebDialer calls need user_id= (the CUCM user id whose phone dials)")
        return user_id.strip()

    async def _credential(self) -> dict[str, str]:
        cred = await self.credentials.body_credential()
        if not cred:
            raise NotSignedIn(
                "WebDialer needs credentials",
                hint="pass auth= (a CucmSSO flow or its token, or (user, password)) to ux.WebDialer(...)",
            )
        return cred

    async def _soap(self, op: str, params: str | SecretBody, *, idempotent: bool) -> Any:
        """POST one operation (the body holds the credential: it is never logged) and return its value."""
        _, result = await self._transport.fetch(
            "POST",
            SOAP_PATH,
            lambda r: soap_result(r.content, url=str(r.request.url)),
            content=_envelope(op, params),
            headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'},
            auth=False,
            error_decoder=self.error_decoder,
            idempotent=idempotent,
        )
        return result

    async def _device(
        self, user_id: str, device: str | None, line: str | None, cred: dict[str, str]
    ) -> tuple[str | None, str | None]:
        if device:
            return device, line
        known = self._devices.get(user_id.casefold())
        if known is not None:
            return known[0], line or known[1]
        result = await self._soap(
            "getProfileSoap", _credential_xml(cred) + _string("in1", user_id, "user_id"), idempotent=True
        )
        devices = self._profile_devices("getProfileSoap", result)
        if not devices:
            raise self._response_error("getProfileSoap", 5, "No device is configured for the user")
        first = devices[0]
        lines = first.get("lines") or []
        chosen = (first.get("deviceName"), line or (lines[0] if lines else None))
        self._devices[user_id.casefold()] = chosen
        return chosen

    def _profile_devices(self, op: str, result: Any) -> list[dict[str, Any]]:
        if not isinstance(result, dict):
            raise ParseError(f"WebDialer {op}: unexpected response shape")
        self._check(op, result)
        raw = result.get("deviceInfoListDetail", result.get("deviceInfoList"))
        devices = []
        for d in _as_list(raw):
            if isinstance(d, dict):
                devices.append({**d, "lines": [x for x in _as_list(d.get("lines")) if x is not None]})
        return devices

    def _check(self, op: str, result: dict[str, Any]) -> int:
        raw = result.get("responseCode")
        try:
            code = int(str(raw).strip())
        except ValueError:
            raise ParseError(f"WebDialer {op}: responseCode {raw!r} is not a number") from None
        if code != 0:
            raise self._response_error(op, code, str(result.get("responseDescription") or ""))
        return code

    def _outcome(self, op: str, result: Any, info: dict[str, Any], forget: str | None) -> pd.Series:
        if not isinstance(result, dict):
            raise ParseError(f"WebDialer {op}: unexpected response shape")
        try:
            code = self._check(op, result)
        except ApiError as exc:
            if forget is not None and exc.code == "5":
                self._devices.pop(
                    forget.casefold(), None
                )  # the remembered phone is gone: ask again next time
            raise
        record = {"responseCode": code, "responseDescription": result.get("responseDescription")}
        return to_series(record, dtypes={"responseCode": "int"}, provenance=self._provenance(op, info, 1))

    def _provenance(self, op: str, params: dict[str, Any], rows: int) -> dict[str, Any]:
        return make_provenance(
            service=self.product,
            host=self.host,
            path=SOAP_PATH,
            params={k: v for k, v in params.items() if v is not None},
            rows=rows,
            auth=self.auth_description,
            operation=op,
        )

    def _response_error(self, op: str, code: int, description: str) -> UcError:
        kind = self.credentials.kind
        if code == 2:
            if token_spent(self.credentials):
                return TokenExpired("WebDialer refused the token: it has expired", hint=self.sign_in_hint())
            hint = (
                f"WebDialer refused the token: {self.sign_in_hint()}"
                if kind == "bearer"
                else "check the user name and password (an end user with the 'Standard CCM End Users' role; "
                "on an SSO-enabled cluster, sign in with ux.CucmSSO and pass the flow as auth=)"
            )
        else:
            hint = RESPONSE_HINTS.get(code, "see the WebDialer developer guide for this responseCode")
        return ApiError(
            f"WebDialer {op}: {description or 'error'} (responseCode {code})",
            status=200,
            error_type=op,
            code=str(code),
            server_message=description or None,
            service=self.label,
            url=self._transport.url(SOAP_PATH),
            hint=hint,
        )

    def error_decoder(self, response: Any) -> UcError:
        """SOAP faults (HTTP 500 with ``soapenv:Fault``) become ApiError with ``faultcode``/``faultstring``."""
        if response.content.lstrip()[:1] == b"<" and b"Fault" in response.content[:4096]:
            try:
                root = parse_xml(response.content)
                body = next((c for c in root if _local(c.tag) == "Body"), None)
                fault = (
                    next((c for c in body if _local(c.tag) == "Fault"), None) if body is not None else None
                )
            except UcError:
                fault = None
            if fault is not None:
                return _fault_error(fault, status=response.status_code, url=str(response.request.url))
        return error_from_response(
            response, service=self.label, sign_in_hint=self.sign_in_hint(), hints=self.hints_for(response)
        )
