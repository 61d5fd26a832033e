"""Scan notebooks, reports and logs for anything that looks like a credential.

``ucexplore audit PATH…`` exits non-zero when it finds one. It reads notebook outputs *and* saved widget
state (``metadata.widgets``), HTML, XLSX (the XML inside the zip), and text/log files. It looks for JWTs,
``access_token=``/``refresh_token``/``code=`` in URLs, ``Authorization`` headers, ``<sessionTicket>``,
``"token": "…"`` JSON fields, and bare high-entropy token strings; exact known secrets can be added.

Example::

    >>> from ucexplore.audit import scan_text
    >>> [f.kind for f in scan_text("cb#access_token=Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA&expires_in=60")]
    ['access_token in URL']
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Sequence

__all__ = ["Finding", "scan_text", "scan_file", "audit", "add_parser", "run"]

_RULES: list[tuple[str, re.Pattern[str]]] = [
    ("JWT", re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")),
    ("access_token in URL", re.compile(r"(?i)[#?&]access_token=(?!\*)[^&\s\"'<>]{8,}")),
    ("refresh token", re.compile(r"(?i)refresh[_-]token[\"']?\s*[:=]\s*[\"']?(?!\*)[A-Za-z0-9._~+/=-]{12,}")),
    ("authorization code in URL", re.compile(r"(?i)[?&]code=(?!\*)[A-Za-z0-9._~-]{16,}")),
    ("Bearer header", re.compile(r"(?i)\bBearer\s+(?!\*)[A-Za-z0-9._~+/=-]{16,}")),
    ("Basic credentials", re.compile(r"(?i)\bBasic\s+(?!\*)[A-Za-z0-9+/]{12,}={0,2}")),
    ("session ticket", re.compile(r"(?i)<(?:\w+:)?sessionTicket>(?!\*)[^<]{8,}<")),
    ("token field", re.compile(r"(?i)\"(?:access_)?token\"\s*:\s*\"(?!\*)[^\"]{16,}\"")),
    ("password field", re.compile(r"(?i)(?:\"password\"\s*:\s*\"|<password>|password=)(?!\*)[^\"<&\s]{4,}")),
]
#: random-looking values that are public by design: a PKCE challenge (a hash, RFC 7636 §4.2) and the OAuth
#: ``state`` in a sign-in link
_PUBLIC_CONTEXT = re.compile(r"(?:code_challenge|[?&]state)=$")
_CANDIDATE = re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{40,90}(?![A-Za-z0-9_-])")
_IMAGE_MIME = ("image/", "application/pdf")


@dataclass(frozen=True)
class Finding:
    """One suspicious string: where, what kind, and a masked excerpt (never the whole secret)."""

    path: str
    where: str
    kind: str
    excerpt: str

    def __str__(self) -> str:
        return f"{self.path}: {self.where}: {self.kind}: {self.excerpt}"


def _mask(s: str) -> str:
    return s[:6] + "…" + f"({len(s)} chars)" if len(s) > 10 else "…"


def _is_text(raw: bytes) -> bool:
    """True when decoded bytes read as text: random token bytes almost never do."""
    if len(raw) < 16:
        return False
    text = None
    for cut in ((0, 0), (1, 0), (0, 1), (2, 0), (0, 2), (1, 1), (3, 0), (0, 3), (2, 2)):  # cut mid-character
        try:
            text = raw[cut[0]:len(raw) - cut[1]].decode("utf-8")
            break
        except UnicodeDecodeError:
            continue
    if text is None:
        return False
    printable = sum(ch.isprintable() or ch in "\t\r\n" for ch in text)
    return printable / max(1, len(text)) > 0.95


def _looks_like_token(s: str) -> bool:
    if re.fullmatch(r"(?:IPY_MODEL_)?[0-9a-fA-F_-]+", s):  # hex ids, uuids, client ids, widget model refs
        return False
    if not (re.search(r"[a-z]", s) and re.search(r"[A-Z]", s) and re.search(r"[0-9]", s)):
        return False
    try:  # base64 of text (Webex ids are ciscospark://…; widget state embeds base64 HTML) is not a secret
        padded = s + "=" * (-len(s) % 4)
        raw = base64.urlsafe_b64decode(padded) if ("-" in s or "_" in s) else base64.b64decode(padded)
        if raw.startswith(b"ciscospark://") or _is_text(raw):
            return False
    except (binascii.Error, ValueError):
        pass
    classes = sum(bool(re.search(p, s)) for p in (r"[a-z]", r"[A-Z]", r"[0-9]", r"[_-]"))
    return classes >= 3 and len(set(s)) >= 20


def scan_text(text: str, *, path: str = "<text>", where: str = "", known: Iterable[str] = (),
              entropy: bool = True) -> list[Finding]:
    """Findings in one piece of text. ``known`` are exact secret values to look for as well."""
    found: list[Finding] = []
    for secret in known:
        if secret and len(secret) >= 6 and secret in text:
            found.append(Finding(path, where, "known secret", _mask(secret)))
    for kind, rule in _RULES:
        for m in rule.finditer(text):
            found.append(Finding(path, where, kind, _mask(m.group(0))))
    if entropy:
        for m in _CANDIDATE.finditer(text):
            if _looks_like_token(m.group(0)) and not _PUBLIC_CONTEXT.search(text, max(0, m.start() - 40), m.start()):
                found.append(Finding(path, where, "token-like string", _mask(m.group(0))))
    return found


_LIBRARY_SCRIPT = re.compile(r"<script[^>]*>(?:(?!</script>).){20000,}?</script>", re.S | re.I)
_DATA_IMAGE = re.compile(r"data:image/[a-z+]+;base64,[A-Za-z0-9+/=]+")


def _strip_noise(text: str) -> str:
    """Drop embedded images and large inline JS libraries (e.g. the itables bundle): code, not data."""
    return _LIBRARY_SCRIPT.sub("<script></script>", _DATA_IMAGE.sub("data:image", text))


def _notebook_texts(nb: dict) -> Iterator[tuple[str, str]]:
    for i, cell in enumerate(nb.get("cells", [])):
        src = cell.get("source", "")
        yield f"cell {i} source", src if isinstance(src, str) else "".join(src)
        for j, out in enumerate(cell.get("outputs", []) or []):
            for key in ("text", "traceback", "evalue"):
                if key in out:
                    val = out[key]
                    yield f"cell {i} output {j} {key}", val if isinstance(val, str) else "\n".join(val)
            for mime, val in (out.get("data") or {}).items():
                if mime.startswith(_IMAGE_MIME):
                    continue
                text = val if isinstance(val, str) else ("".join(val) if isinstance(val, list) else json.dumps(val))
                yield f"cell {i} output {j} {mime}", _strip_noise(text) if "html" in mime else text
    widgets = nb.get("metadata", {}).get("widgets")
    if widgets:
        yield "metadata.widgets (saved widget state)", json.dumps(_without_images(widgets))


def _without_images(widgets: dict) -> dict:
    """Saved widget state minus the binary buffers of image widgets (base64 PNG is noise, not a secret)."""
    state = widgets.get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    clean = {}
    for key, model in state.items():
        if isinstance(model, dict) and model.get("model_name") == "ImageModel":
            model = {**model, "buffers": []}
        clean[key] = model
    return {**widgets, "application/vnd.jupyter.widget-state+json": {
        **widgets.get("application/vnd.jupyter.widget-state+json", {}), "state": clean}}


def scan_file(path: str | Path, *, known: Iterable[str] = ()) -> list[Finding]:
    """Findings in one notebook, HTML report, XLSX workbook, or text/log file."""
    p = Path(path)
    known = tuple(known)
    found: list[Finding] = []
    if p.suffix == ".ipynb":
        nb = json.loads(p.read_text(encoding="utf-8"))
        for where, text in _notebook_texts(nb):
            # source cells legitimately contain code; only exact secrets and explicit patterns count there
            found += scan_text(text, path=str(p), where=where, known=known, entropy="source" not in where)
    elif p.suffix == ".xlsx":
        with zipfile.ZipFile(p) as zf:
            for name in zf.namelist():
                if name.endswith(".xml"):
                    found += scan_text(zf.read(name).decode("utf-8", "replace"), path=str(p), where=name,
                                       known=known)
    else:
        text = p.read_text(encoding="utf-8", errors="replace")
        if p.suffix in (".html", ".htm"):
            text = _strip_noise(text)
        found += scan_text(text, path=str(p), where="text", known=known)
    return found


def audit(paths: Iterable[str | Path], *, known: Iterable[str] = ()) -> list[Finding]:
    """Scan files and folders (recursively: .ipynb, .html, .xlsx, .log, .txt, .json, .csv)."""
    known = tuple(known)
    found: list[Finding] = []
    for raw in paths:
        p = Path(raw)
        files = ([f for f in sorted(p.rglob("*")) if f.is_file() and f.suffix in
                  (".ipynb", ".html", ".htm", ".xlsx", ".log", ".txt", ".json", ".csv")
                  and ".ipynb_checkpoints" not in f.parts] if p.is_dir() else [p])
        for f in files:
            found += scan_file(f, known=known)
    return found


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``ucexplore audit``."""
    p = sub.add_parser("audit", help="scan notebooks, reports and logs for credentials",
                       description="Exit 1 when anything looks like a token, refresh token, session ticket, "
                                   "Basic credentials or access_token= URL.")
    p.add_argument("paths", nargs="+")


def run(args: argparse.Namespace) -> int:
    """Run ``ucexplore audit``: print findings (masked), return 1 when there are any."""
    findings = audit(args.paths)
    for f in findings:
        print(f)
    print(f"{len(findings)} finding(s)" if findings else "no credentials found")
    return 1 if findings else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Standalone entry (``python -m ucexplore.audit PATH…``)."""
    parser = argparse.ArgumentParser(prog="ucexplore audit")
    parser.add_argument("paths", nargs="+")
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
