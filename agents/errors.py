"""Domain errors. The API maps each to one HTTP status (ade/api.py)."""


class DomainError(Exception):
    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


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
