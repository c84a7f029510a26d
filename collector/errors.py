"""The one JSON error shape of every API response with a 4xx or 5xx status."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify


def error_response(
    status: int,
    message: str,
    field: str | None = None,
    reasons: list[str] | None = None,
) -> Response:
    """Return a JSON error: `error`, `reasons` and `field` where a value is at fault.

    `reasons` lists every problem found, `[message]` when there is one, and
    `error` joins them. `field` names the value at fault, or the first of
    them; the empty string names the body as a whole.
    """
    body: dict[str, Any] = {"error": message, "reasons": reasons or [message]}
    if field is not None:
        body["field"] = field
    response = jsonify(body)
    response.status_code = status
    return response
