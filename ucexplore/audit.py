"""Scan notebooks, reports, logs, code and HAR captures for anything that looks like a credential.

``ucexplore audit PATH…`` prints a table with one row per finding: the file, where in it (``cell 3 source``,
``cell 3 output``, ``widget state (metadata.widgets)``, ``sheet Users!B7``, ``line 12``, ``har entry 4``;
all 1-based), the kind (``bearer header``, ``webex access token``, ``cucm/unity token``, ``password field``…)
and a masked excerpt (``abcd…(43 chars)``, never the secret). It exits 1 when there is any finding (a file
it cannot read is one), 0 when clean and 2 when a path does not exist.

It reads notebook cells, outputs and saved widget state (the decoded JSON values, not its serialised text),
HTML (inline ``<script>`` data included), every cell of every XLSX sheet, HAR captures (headers, cookies,
query strings, bodies) and text: ``.log``, ``.txt``, ``.json``, ``.csv``, ``.py``, ``.md``, config files.
Folders are walked recursively, ``.ipynb_checkpoints`` included (old outputs live there); ``.git``, virtual
environments, ``node_modules`` and ``__pycache__`` are skipped. What counts as a secret, and why
``token=flow.token`` does not, is in :mod:`ucexplore.audit_patterns`.

Example::

    >>> from ucexplore.audit import scan_text
    >>> [f.kind for f in scan_text("cb#access_token=Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA&expires_in=60")]
    ['access_token in URL']
    >>> scan_text("token = flow.token; refresh_token=old.refresh_token; password=getpass()", code=True)
    []
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import zipfile
from bisect import bisect_right
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from .audit_patterns import decoded_text, detect, field_kind, mask, normalise

__all__ = ["Finding", "scan_text", "scan_file", "audit", "format_table", "add_parser", "run"]

#: file types a folder scan reads (a file named on the command line is always read)
SUFFIXES = frozenset({".ipynb", ".html", ".htm", ".xlsx", ".har", ".log", ".txt", ".json", ".csv", ".py",
                      ".md", ".xml", ".yaml", ".yml", ".env", ".ini", ".cfg", ".toml"})
#: folders a folder scan never enters (nor any folder holding a ``pyvenv.cfg``: a virtual environment)
SKIP_DIRS = frozenset({".git", ".hg", ".svn", ".venv", "node_modules", "__pycache__"})
_CODE_SUFFIXES = (".py",)
_CELL_PARTS = re.compile(r"xl/sharedStrings\.xml|xl/worksheets/[^/]+\.xml")  #: read cell by cell instead
#: embedded binaries (images, fonts): base64 noise, not secrets
_DATA_URI = re.compile(r"data:(?:image|font|audio|video|application/(?:x-)?font)[\w/+.-]*;base64,[\w+/=]+")


@dataclass(frozen=True)
class Finding:
    """One suspicious string: where, what kind, and a masked excerpt (never the whole secret)."""

    path: str
    where: str
    kind: str
    excerpt: str

    def __str__(self) -> str:
        return f"{self.path}: {self.where}: {self.kind}: {self.excerpt}"


def _scan_parts(path: str, parts: Sequence[tuple[str, str]], known: Sequence[str], *, code: bool = False,
                entropy: bool = True) -> list[Finding]:
    """Findings in several labelled pieces of text, scanned as one (a sheet's cells, a file's lines)."""
    texts = [normalise(_DATA_URI.sub("data:", t) if "data:" in t else t) for _, t in parts]
    joined = "\n".join(texts)
    starts, pos = [], 0
    for t in texts:
        starts.append(pos)
        pos += len(t) + 1
    hits = [(i, "known secret", s) for s in known if s and len(s) >= 6 for i in _all_indexes(joined, s)]
    hits += [(h.start, h.kind, h.secret) for h in detect(joined, code=code, entropy=entropy)]
    found = [Finding(path, parts[bisect_right(starts, i) - 1][0], kind, mask(s))
             for i, kind, s in sorted(hits)]
    return list(dict.fromkeys(found))  # the same secret twice in one place is one finding


def _all_indexes(text: str, s: str) -> Iterator[int]:
    i = text.find(s)
    while i >= 0:
        yield i
        i = text.find(s, i + len(s))


def scan_text(text: str, *, path: str = "<text>", where: str = "", known: Iterable[str] = (),
              entropy: bool = True, code: bool = False) -> list[Finding]:
    """Findings in one piece of text. ``known`` are exact secret values to look for as well; ``code`` says the
    text is source code (a bare ``key=name`` is then a keyword argument, not a value)."""
    return _scan_parts(path, [(where, text)], tuple(known), code=code, entropy=entropy)


def _lines(text: str) -> list[tuple[str, str]]:
    return [(f"line {n}", line) for n, line in enumerate(text.split("\n"), 1)]


def _json_lines(obj: Any, key: str = "") -> Iterator[str]:
    """The values of a JSON document as ``"key": "value"`` lines, so key/value rules see them decoded; JSON
    nested in strings is parsed, text in base64 buffers is decoded, binary buffers (images) are skipped."""
    if isinstance(obj, dict):
        if obj.get("_model_name") == "PasswordModel" and obj.get("value"):
            yield f'"password": "{obj["value"]}"'
        if isinstance(obj.get("data"), str) and (obj.get("encoding") == "base64" or key == "buffers"):
            text = decoded_text(obj["data"], 1)
            if text:
                yield text
            obj = {k: v for k, v in obj.items() if k != "data"}
        for k, v in obj.items():
            if len(str(k)) >= 20:
                yield str(k)
            yield from _json_lines(v, str(k))
    elif isinstance(obj, list):
        for v in obj:
            yield from _json_lines(v, key)
    elif isinstance(obj, str):
        nested = _maybe_json(obj)
        if nested is not None:
            yield from _json_lines(nested, key)
        else:
            yield f'"{key}": "{obj}"' if key else obj
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool) and key:
        yield f'"{key}": "{obj}"'


def _maybe_json(s: str) -> Any:
    if len(s) < 2 or s[0] not in "{[" or s[-1] not in "}]":
        return None
    try:
        return json.loads(s)
    except ValueError:
        return None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else "".join(value) if isinstance(value, list) else ""


def _scan_notebook(path: str, nb: dict, known: Sequence[str]) -> list[Finding]:
    """Cell sources (as code), cell metadata, outputs (not images) and the notebook's metadata, saved widget
    state included."""
    found: list[Finding] = []
    for n, cell in enumerate(nb.get("cells", []), 1):
        is_code = cell.get("cell_type") == "code"
        found += _scan_parts(path, [(f"cell {n} source", _text(cell.get("source", "")))], known, code=is_code)
        if cell.get("metadata"):  # (not its attachments: pasted images)
            meta = "\n".join(_json_lines(cell["metadata"]))
            found += _scan_parts(path, [(f"cell {n} metadata", meta)], known)
        for out in cell.get("outputs") or []:
            where = f"cell {n} output"
            texts = [_text(out.get("text")), str(out.get("evalue") or ""), "\n".join(out.get("traceback") or [])]
            for mime, val in (out.get("data") or {}).items():
                if not mime.startswith(("image/", "application/pdf")):
                    texts.append(_text(val) if isinstance(val, (str, list)) else "\n".join(_json_lines(val)))
            found += _scan_parts(path, [(where, t) for t in texts if t], known)
    metadata = dict(nb.get("metadata") or {})
    widgets = metadata.pop("widgets", None)
    for where, doc in (("widget state (metadata.widgets)", widgets), ("notebook metadata", metadata)):
        if doc:
            found += _scan_parts(path, [(where, "\n".join(_json_lines(doc)))], known)
    return found


def _scan_xlsx(path: str, known: Sequence[str]) -> list[Finding]:
    """Every cell of every sheet (formulas as written), then the parts that are not cells: comments, hyperlink
    targets, defined names, document properties. A zip openpyxl cannot open is scanned part by part."""
    import openpyxl

    with zipfile.ZipFile(path) as zf:
        names = [n for n in zf.namelist() if n.endswith((".xml", ".rels", ".vml"))]
        try:
            wb = openpyxl.load_workbook(path, read_only=True, data_only=False)
        except Exception:  # noqa: BLE001 - not a workbook openpyxl understands: read the XML itself
            wb = None
        found: list[Finding] = []
        if wb is not None:
            for ws in wb.worksheets:
                parts, headers = [], {}
                for row in ws.iter_rows():
                    for cell in row:
                        if cell.value is None or not hasattr(cell, "coordinate"):
                            continue
                        text = str(cell.value)
                        if cell.row == 1:
                            headers[cell.column] = text
                        elif field_kind(headers.get(cell.column, "")):  # a "password" or "token" column
                            text = f'"{headers[cell.column]}": "{text}"'
                        parts.append((f"sheet {ws.title}!{cell.coordinate}", text))
                found += _scan_parts(path, parts, known)
            wb.close()
            names = [n for n in names if not _CELL_PARTS.fullmatch(n)]
        for name in names:
            found += _scan_parts(path, [(name, zf.read(name).decode("utf-8", "replace"))], known)
    return found


def _scan_har(path: str, har: dict, known: Sequence[str]) -> list[Finding]:
    """HAR (HTTP archive): URLs, headers, cookies, query strings, form fields and bodies of every entry."""
    found: list[Finding] = []
    for n, entry in enumerate((har.get("log") or {}).get("entries") or [], 1):
        lines: list[str] = []
        for side in ("request", "response"):
            msg = entry.get(side) or {}
            lines += [str(msg.get("url", "")), str(msg.get("redirectURL", ""))]
            lines += [f"{h.get('name')}: {h.get('value')}" for h in msg.get("headers") or []]
            lines += [f"Cookie: {c.get('name')}={c.get('value')}" for c in msg.get("cookies") or []]
            lines += [f"?{q.get('name')}={q.get('value')}" for q in msg.get("queryString") or []]
            body = msg.get("postData") or msg.get("content") or {}
            lines += [f"&{p.get('name')}={p.get('value')}" for p in body.get("params") or []]
            text = str(body.get("text") or "")
            text = (decoded_text(text, 1) or "") if body.get("encoding") == "base64" else text
            nested = _maybe_json(text.strip())
            lines += list(_json_lines(nested)) if nested is not None else [text]
        found += _scan_parts(path, [(f"har entry {n}", "\n".join(lines))], known)
    return found


def scan_file(path: str | Path, *, known: Iterable[str] = ()) -> list[Finding]:
    """Findings in one notebook, HTML report, XLSX workbook, HAR capture, or text/log/code file.

    A file that cannot be read or parsed is one ``unreadable file`` finding (a corrupt notebook or HAR is
    scanned as text as well)."""
    p, known = Path(path), tuple(known)
    suffix = p.suffix.lower()
    found: list[Finding] = []
    try:
        if suffix == ".xlsx":
            return _scan_xlsx(str(p), known)
        text = p.read_text(encoding="utf-8", errors="replace")
        if suffix in (".ipynb", ".har"):
            try:
                doc = json.loads(text)
                if not isinstance(doc, dict):
                    raise ValueError(f"a {suffix} file holds a JSON object")
                return (_scan_notebook if suffix == ".ipynb" else _scan_har)(str(p), doc, known)
            except (ValueError, AttributeError, TypeError) as exc:
                found.append(_unreadable(p, exc))
        return found + _scan_parts(str(p), _lines(text), known, code=suffix in _CODE_SUFFIXES)
    except Exception as exc:  # noqa: BLE001 - a corrupt file is one line of the report, not a traceback
        return [_unreadable(p, exc)]


def _unreadable(p: Path, exc: Exception) -> Finding:
    return Finding(str(p), "file", "unreadable file", f"{type(exc).__name__}: {str(exc)[:80]}")


def _files(p: Path) -> Iterator[Path]:
    if not p.is_dir():
        yield p
        return
    for root, dirs, files in os.walk(p):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not Path(root, d, "pyvenv.cfg").exists())
        for name in sorted(files):
            if Path(name).suffix.lower() in SUFFIXES or name == ".env":
                yield Path(root, name)


def audit(paths: Iterable[str | Path], *, known: Iterable[str] = ()) -> list[Finding]:
    """Scan files and folders (recursively, see :data:`SUFFIXES` and :data:`SKIP_DIRS`).

    Raises :class:`FileNotFoundError` for a path that does not exist (a typo must not pass as "clean").
    """
    known = tuple(known)
    found: list[Finding] = []
    for raw in paths:
        p = Path(raw)
        if not p.exists():
            raise FileNotFoundError(f"no such file or folder: {raw}")
        for f in _files(p):
            found += scan_file(f, known=known)
    return found


def format_table(findings: Sequence[Finding]) -> str:
    """The findings as an aligned text table: file, where, kind, masked excerpt."""
    rows = [("file", "where", "kind", "excerpt")] + [(f.path, f.where, f.kind, f.excerpt) for f in findings]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[3] for r in rows)


def _path(value: str) -> str:
    """An argparse type: a non-empty path (an empty one would scan the current folder by surprise)."""
    if not value.strip():
        raise argparse.ArgumentTypeError("empty path: name a file or folder (use . for the current folder)")
    return value


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="+", type=_path, metavar="PATH",
                   help="files or folders to scan (folders recursively: notebooks, HTML, XLSX, HAR, logs, "
                        "code, config)")


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``ucexplore audit``."""
    p = sub.add_parser("audit", help="scan notebooks, reports and logs for credentials",
                       description="Exit 1 when anything looks like a token, refresh token, password, "
                                   "session ticket, cookie or Basic credentials; 2 when a path does not "
                                   "exist.")
    _add_arguments(p)


def run(args: argparse.Namespace) -> int:
    """Run ``ucexplore audit``: print the findings (masked) as a table; 1 when there are any, 2 when a path
    does not exist."""
    try:
        findings = audit(args.paths)
    except FileNotFoundError as exc:
        print(f"ucexplore audit: {exc}", file=sys.stderr)
        return 2
    if findings:
        print(format_table(findings))
    files = len({f.path for f in findings})
    print(f"{len(findings)} finding(s) in {files} file(s)" if findings else "no credentials found")
    return 1 if findings else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Standalone entry (``python -m ucexplore.audit PATH…``)."""
    parser = argparse.ArgumentParser(prog="ucexplore audit", description="Scan files and folders for credentials.")
    _add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
