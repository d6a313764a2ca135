"""Domain errors. The API maps each to one HTTP status (ade/api.py)."""


class DomainError(Exception):
    status = 400

    def __init__(self, message: str, *, extra: dict[str, object] | None = None) -> None:
        super().__init__(message)
        self.message = message
        # Fields the API adds to the error body beside `detail`.
        self.extra = extra or {}


class InvalidInput(DomainError):
    status = 422


class NotFound(DomainError):
    status = 404


class Conflict(DomainError):
    status = 409


class LimitExceeded(InvalidInput):
    status = 413


class PermissionDenied(DomainError):
    """Visible to the caller but not theirs to change (a built-in tool)."""

    status = 403


class TurnFailed(DomainError):
    """A turn that could not get an answer from its model (a missing key, a
    refused key, an upstream outage). The status says whose it is to fix,
    as Letta's does: 4xx for the caller's configuration, 5xx upstream."""

    def __init__(self, message: str, *, status: int, extra: dict[str, object]) -> None:
        super().__init__(message, extra=extra)
        self.status = status
