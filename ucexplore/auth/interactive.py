"""Sign in from a terminal: print the sign-in link, read the paste without echo, return the Token.

This is what ``ucexplore login cucm|unity|finesse|webex URL …`` runs. The paste may span several lines (a
pretty-printed Finesse JSON page, or a terminal that wrapped a long address): lines are read until the text is
complete (a JSON object whose braces balance, or one line of anything else) or an empty line is entered.

Example::

    >>> answers = iter(["MjpkZTkxYjNmYS0wYzU2LTQx"])     # the bare token (a whole address needs its state)
    >>> tok = login_interactive("cucm", "https://cucm.example.com:8443", redirect_uri="https://app.example.com/cb",
    ...                         input_fn=lambda prompt="": next(answers), print_fn=lambda *a, **k: None)
    >>> tok.issuer
    'cucm'
"""

from __future__ import annotations

import getpass
from typing import Any, Callable, Iterable

from ..errors import SSOError
from .flows import SignInFlowBase, flow_for
from .store import TokenStore, open_store, remember
from .token import Token

__all__ = ["login_interactive", "build_flow", "read_paste"]

PROMPT = "Paste it here (input is hidden), then press Enter: "


def build_flow(
    product: str,
    url: str | None = None,
    *,
    agent_id: str | None = None,
    client_id: str | None = None,
    client_secret: str | None = None,
    redirect_uri: str | None = None,
    scopes: Iterable[str] | str | None = None,
    verify: bool | str = True,
    require_state: bool = True,
) -> SignInFlowBase:
    """The flow for ``product`` (``cucm``, ``unity``, ``finesse``, ``webex``) built from CLI-style arguments.

    Example::

        >>> build_flow("finesse", "https://finesse.example.com:8445", agent_id="1001001").authorize_url[-25:]
        'return_refresh_token=true'
    """
    cls = flow_for(product)
    name = cls.product
    if name == "webex":
        if not client_id:
            raise ValueError("webex sign-in needs --client-id (the integration's client id)")
        kwargs: dict[str, Any] = {"client_secret": client_secret, "redirect_uri": redirect_uri, "verify": verify}
        if scopes:
            kwargs["scopes"] = scopes
        if url:
            kwargs["base_url"] = url
        return cls(client_id, **kwargs)  # type: ignore[call-arg]
    if not url:
        raise ValueError(f"{name} sign-in needs the server URL, e.g. https://{name}.example.com:8443")
    if name == "finesse":
        return cls(url, agent_id=agent_id, verify=verify)  # type: ignore[call-arg]
    kwargs = {"redirect_uri": redirect_uri, "verify": verify, "require_state": require_state}
    if client_id:
        kwargs["client_id"] = client_id
    return cls(url, **kwargs)  # type: ignore[call-arg]


def _complete_enough(text: str) -> bool:
    s = text.strip().lstrip("'\"“”‘’`<")
    if s.startswith("{"):
        depth, in_str, esc = 0, False, False
        for ch in s:
            if in_str:
                if esc:
                    esc = False
                elif ch == "\\":
                    esc = True
                elif ch == '"':
                    in_str = False
            elif ch == '"':
                in_str = True
            elif ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
        return depth <= 0
    return bool(s)


def read_paste(input_fn: Callable[..., str] = getpass.getpass, prompt: str = PROMPT, *,
               max_lines: int = 200) -> str:
    """Read one paste: line after line until it is complete or an empty line comes.

    Example::

        >>> lines = iter(['{"token": "abc",', ' "expires_in": 300}'])
        >>> read_paste(lambda prompt="": next(lines))
        '{"token": "abc",\\n "expires_in": 300}'
    """
    lines: list[str] = []
    while len(lines) < max_lines:
        try:
            line = input_fn(prompt if not lines else "")
        except EOFError:
            break
        if not line.strip():
            if lines:
                break
            continue
        lines.append(line)
        if _complete_enough("\n".join(lines)):
            break
    return "\n".join(lines)


def login_interactive(
    product: str,
    url: str | None = None,
    *,
    agent_id: str | None = None,
    client_id: str | None = None,
    client_secret: str | None = None,
    redirect_uri: str | None = None,
    scopes: Iterable[str] | str | None = None,
    input_fn: Callable[..., str] = getpass.getpass,
    print_fn: Callable[..., Any] = print,
    verify: bool | str = True,
    store: bool | TokenStore = False,
    flow: SignInFlowBase | None = None,
    attempts: int = 3,
) -> Token:
    """Print the sign-in link, read the paste without echo, complete the sign-in and return the Token.

    ``store=True`` keeps the token in the OS keyring (and a still-usable stored token is returned without
    asking); the default keeps it in memory only. Input that ends (EOF) before anything is pasted raises
    ``SSOError`` at once. ``flow`` reuses an existing flow instead of building one.
    A bad paste is explained and asked again, up to ``attempts`` times; then the last ``SSOError`` is raised.
    """
    if flow is None:
        flow = build_flow(product, url, agent_id=agent_id, client_id=client_id, client_secret=client_secret,
                          redirect_uri=redirect_uri, scopes=scopes, verify=verify)
    if store:
        st = open_store(store)
        if remember(flow, st) and flow.token is not None:
            print_fn(f"Using the stored {flow.display_name} token ({flow!r}).")
            return flow.token
    what = ("the whole text of the page it shows (JSON starting with {\"token\":…)" if flow.product == "finesse"
            else "the whole address your browser lands on after signing in")
    print_fn(f"Sign in to {flow.display_name}: open this link in your browser and sign in:\n\n"
             f"    {flow.authorize_url}\n\nthen copy {what}.")
    last: SSOError | None = None
    for _ in range(max(1, attempts)):
        pasted = read_paste(input_fn)
        if not pasted.strip():  # read_paste skips empty lines: nothing at all means the input has ended
            print_fn("")  # end the prompt's line
            raise SSOError("nothing was pasted: the input ended before a paste",
                           hint=f"run it in a terminal: open the sign-in link, sign in, then paste, when asked, "
                                f"{what}")
        try:
            tok = flow.complete(pasted)
        except SSOError as exc:
            last = exc
            print_fn(f"That did not work: {exc}")
            continue
        who = f" as {tok.user}" if tok.user else ""
        exp = f", token valid until {tok.expires_at:%Y-%m-%d %H:%M:%S} UTC" if tok.expires_at else ""
        print_fn(f"Signed in to {flow.display_name}{who}{exp}.")
        return tok
    assert last is not None
    raise last
