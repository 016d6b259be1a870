"""Errors of the local stack."""

from runtime.errors import InfrastructureError


class StackError(InfrastructureError):
    """A stack service could not be installed, started, checked or stopped."""
