"""What an error may say where others read it: stored `last_error`, dead-letter headers, API bodies.

Only its type and first line, at most 500 characters: no SQL text, no bound parameters (the SQL
engine also hides those), no DETAIL lines with row values, no driver links.
"""

from __future__ import annotations

MAX_LENGTH = 500


def describe(error: BaseException) -> str:
    first = str(error).strip().splitlines()[0] if str(error).strip() else ""
    first = first.split("[SQL:", 1)[0].split("(Background on this error", 1)[0].strip()
    text = f"{type(error).__name__}: {first}" if first else type(error).__name__
    return text[:MAX_LENGTH]
