"""Maximum lengths, in characters, of the free text users send.

The request body may be up to 16 MB and Text columns take any length, so
without these limits a pasted log or file would be stored in a case. The
limits of a step's recorded values are set per field in the workflow file
(see collector.workflow.definition). Short names match the String columns
that store them.
"""

from __future__ import annotations

MAX_APPLICATION_CHARS = 200
MAX_UNIT_CHARS = 200
MAX_MEMORANDUM_NUMBER_CHARS = 100
MAX_DESCRIPTION_CHARS = 10_000
MAX_COMMENT_CHARS = 20_000
MAX_CLOSE_REASON_CHARS = 20_000
MAX_USER_NAME_CHARS = 100
MAX_COMPLAINT_TEXT_CHARS = 20_000
# Notes of one stage of a staged test (a test_stages field of a step).
MAX_STAGE_NOTES_CHARS = 5_000

# Keys of a damage report and of a complaint, and their limits.
DAMAGE_REPORT_LIMITS = {
    "application": MAX_APPLICATION_CHARS,
    "unit": MAX_UNIT_CHARS,
    "memorandum_number": MAX_MEMORANDUM_NUMBER_CHARS,
    "memorandum_date": 10,
    "description": MAX_DESCRIPTION_CHARS,
}
COMPLAINT_LIMITS = {
    "text": MAX_COMPLAINT_TEXT_CHARS,
    "unit": MAX_UNIT_CHARS,
    "application": MAX_APPLICATION_CHARS,
    "channel": 16,
    "addressed_to": MAX_USER_NAME_CHARS,
    "assigned_to": MAX_USER_NAME_CHARS,
    "follow_up": MAX_COMPLAINT_TEXT_CHARS,
    "agenda": MAX_COMPLAINT_TEXT_CHARS,
    "outcome": MAX_COMPLAINT_TEXT_CHARS,
}


def too_long(name: str, value: str, limit: int) -> str | None:
    """Return the message for a value over `limit` characters, else None.

    The message names the value, its length and the limit, never the text.
    """
    if len(value) <= limit:
        return None
    return (
        f"{name}: {len(value)} characters is longer than the maximum of {limit}; "
        "shorten it"
    )


def template_limits() -> dict[str, int]:
    """Return the limits the forms set as maxlength, by form input name."""
    return {
        **DAMAGE_REPORT_LIMITS,
        **{f"complaint_{key}": limit for key, limit in COMPLAINT_LIMITS.items()},
        "comment": MAX_COMMENT_CHARS,
        "close_reason": MAX_CLOSE_REASON_CHARS,
        "stage_notes": MAX_STAGE_NOTES_CHARS,
    }
