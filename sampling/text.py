"""Characters no text field accepts, said once: JSON bodies, form fields, query arguments and CSV
imports all refuse them, and the pages neutralise any already stored.

- NUL: no database stores it in text (PostgreSQL refuses it, SQLite truncates on some paths).
- A lone surrogate (``"\\ud800"`` in JSON): not a character; UTF-8 cannot encode it.
- Bidirectional controls (U+202A-202E embeddings and overrides, U+2066-2069 isolates, U+200E/200F
  marks, U+061C the Arabic letter mark): they reorder what is shown, so a listed name could be
  made to read as another one.
"""

import re

BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
BIDI_RE = re.compile(f"[{BIDI_CONTROLS}]")
SURROGATE_RE = re.compile("[\ud800-\udfff]")


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored as text, or None when it can."""
    if "\x00" in value:
        return "must not contain NUL characters (不得包含空字符)"
    if SURROGATE_RE.search(value):
        return "must not contain lone surrogates: not valid Unicode (含无效的Unicode字符)"
    if BIDI_RE.search(value):
        return "must not contain bidirectional control characters (不得包含双向控制字符)"
    return None


def without_bidi(value: str) -> str:
    """``value`` with every bidirectional control removed (shown in its stored order)."""
    return BIDI_RE.sub("", value)


def csv_cell(value) -> str:
    """A cell: lists joined by ';', and text that a spreadsheet would run as a formula quoted."""
    if isinstance(value, list):
        value = ";".join(value)
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
