"""Domain exceptions raised by the pure logic and the services.

The app's error handler turns each into the documented error shape
``{"code", "status", "message", "errors"}`` with the exception's ``status``.
"""


class DomainError(Exception):
    """A rule of the domain was broken; ``status`` is the HTTP status it maps to."""

    status = 400

    def __init__(self, message: str, errors: dict | None = None):
        super().__init__(message)
        self.message = message
        self.errors = errors or {}


class RuleViolation(DomainError):
    """A move the current state, or a rule of the draw, does not allow (409)."""

    status = 409


class InvalidInput(DomainError):
    """Input that breaks a rule of its own, e.g. a date in the future (422)."""

    status = 422


class NotFound(DomainError):
    """An unknown id or code (404)."""

    status = 404


class Forbidden(DomainError):
    """The caller's record does not own what it tries to act on (403)."""

    status = 403
