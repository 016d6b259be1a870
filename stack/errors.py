"""Errors of the local stack."""

from schemas.errors import InfrastructureError


class StackError(InfrastructureError):
    """A stack service could not be installed, started, checked or stopped."""
