"""The one error type of every provider failure (and its context-overflow
case), raised by adapters and embedders, retried by the loop where retryable."""

from __future__ import annotations


class ProviderError(Exception):
    """One error type for every provider failure.

    kind: rate_limit | server | timeout | connection | auth | context_overflow |
          bad_request | empty_response | invalid_response | not_configured
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        kind: str = "error",
        status: int | None = None,
        retry_after: float | None = None,
        provider: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.kind = kind
        self.status = status
        self.retry_after = retry_after
        self.provider = provider

    def __repr__(self) -> str:
        return (
            f"ProviderError(kind={self.kind!r}, retryable={self.retryable}, "
            f"status={self.status}, provider={self.provider!r}, message={self.message!r})"
        )


class ContextWindowExceeded(ProviderError):
    def __init__(self, message: str, *, provider: str | None = None, status: int | None = None):
        super().__init__(
            message, retryable=False, kind="context_overflow", status=status, provider=provider
        )


class CallCancelled(Exception):
    """A model call abandoned because its run was cancelled. Not a provider
    failure: never retried, and nothing the model said is acted on."""
