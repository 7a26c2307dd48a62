"""Text that people type and eo_cc shows again: on pages, in mail subjects and in CSV files.

NUL and the other control characters break mail headers and CSV files; the Unicode bidi
overrides and isolates (U+202A–U+202E, U+2066–U+2069) make a name or a choice read as
something else on screen ("Trojan Source"). Both are refused with a clear message. Line
breaks and tabs are fine where a field allows several lines.
"""
import re

from wtforms.validators import ValidationError

_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")


def unsafe_character(text):
    """A description of the first refused character in text, or None."""
    found = _UNSAFE.search(text or "")
    if found is None:
        return None
    char = found.group()
    kind = "a text-direction override" if "\u202a" <= char <= "\u2069" else "a control character"
    return f"{kind} (U+{ord(char):04X})"


def no_unsafe_characters(form, field):
    """WTForms validator: refuse control characters and bidi overrides."""
    if isinstance(field.data, str) and (problem := unsafe_character(field.data)):
        raise ValidationError(f"This contains {problem}, which eo_cc does not accept. "
                              "Please type it again without it.")
