"""The one rule for text a client sends: trimmed, bounded, storable as-is in every database.

PostgreSQL cannot store NUL, no encoder can write a lone surrogate, and control characters in a
name only hide what it says. A single-line text refuses every control character (C0, DEL, C1);
a multi-line one keeps tab, line feed and carriage return.
"""

from __future__ import annotations

import re

from domain.errors import ValidationError

# regular-expression classes of the refused characters, as the API schema publishes them
SINGLE_LINE_FORBIDDEN = r"\x00-\x1F\x7F-\x9F"
MULTI_LINE_FORBIDDEN = r"\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F"
_REFUSED = {False: re.compile(f"[{SINGLE_LINE_FORBIDDEN}]"), True: re.compile(f"[{MULTI_LINE_FORBIDDEN}]")}
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def text_problem(value: str, multiline: bool = False) -> str | None:
    """What makes `value` unstorable or unreadable, or None when it is fine."""
    if _LONE_SURROGATE.search(value):
        return "must be valid Unicode (no lone surrogate)"
    refused = _REFUSED[multiline].search(value)
    if refused is None:
        return None
    if refused.group() == "\x00":
        return "must not contain a NUL character"
    return f"must not contain control characters (found U+{ord(refused.group()):04X})"


def required_text(field_name: str, value: object, max_length: int, *, multiline: bool = False) -> str:
    """`value` trimmed, or ValidationError naming `field_name` (empty, too long, unstorable)."""
    cleaned = _checked(field_name, value, max_length, multiline)
    if not cleaned:
        raise ValidationError(field_name, "must not be empty")
    return cleaned


def optional_text(field_name: str, value: object, max_length: int, *, multiline: bool = False) -> str | None:
    """As required_text, but an absent or blank text is None."""
    return _checked(field_name, value, max_length, multiline) or None


def _checked(field_name: str, value: object, max_length: int, multiline: bool) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationError(field_name, "must be a string")
    problem = text_problem(value, multiline)  # before trimming: str.strip() also removes some controls
    if problem is not None:
        raise ValidationError(field_name, problem)
    cleaned = value.strip()
    if len(cleaned) > max_length:
        raise ValidationError(field_name, f"must be at most {max_length} characters")
    return cleaned
