"""Constant Contact's errors in the admin's words.

The raw text (status, error key, CC's own message, ids) stays in the sync log and the database
for whoever debugs; pages show what it means and what happens next.
"""
import re

NEXT_RUN = "eo_cc tries again at the next sync."
_STATUS = re.compile(r"\(HTTP (\d{3})\)")
_UNFINISHED = re.compile(r"Constant Contact (activity|removal|import) (failed|cancelled|timed_out)")


def in_plain_words(error):
    """One sentence for a stored error; text that is already ours passes through."""
    if not error:
        return error
    text = str(error)
    unfinished = _UNFINISHED.search(text)
    if unfinished:
        what = {"activity": "removal"}.get(unfinished.group(1), unfinished.group(1))
        return (f"Constant Contact did not finish the {what} "
                f"({unfinished.group(2).replace('_', ' ')}); {NEXT_RUN}")
    status = _STATUS.search(text)
    if status:
        return _for_status(int(status.group(1)))
    if "Constant Contact error (no response)" in text:
        return f"eo_cc could not reach Constant Contact; {NEXT_RUN}"
    if text.startswith("Constant Contact error"):
        return f"Constant Contact answered with an error; {NEXT_RUN}"
    return text


def _for_status(status):
    if status == 404:
        return ("Constant Contact could not find the list or contact: it may have been deleted in "
                "Constant Contact.")
    if status == 429:
        return f"Constant Contact was busy (too many requests); {NEXT_RUN}"
    if status in (401, 403):
        return "Constant Contact refused eo_cc's access; if this goes on, grant access again."
    if status >= 500:
        return f"Constant Contact had a problem on its side; {NEXT_RUN}"
    return f"Constant Contact did not accept eo_cc's request; {NEXT_RUN}"
