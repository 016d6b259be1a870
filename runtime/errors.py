"""The project's exception hierarchy.

Every error the platform raises on purpose derives from :class:`F1Error`, so a
service's ``main`` can catch that one class, print one clear line and exit
non-zero instead of showing a traceback. Library errors are wrapped with
``raise ... from exc`` so the cause stays available in debug logs.
"""


class F1Error(Exception):
    """Root of every error the platform raises on purpose."""


class ConfigError(F1Error):
    """A setting, flag or input file is invalid."""


class InfrastructureError(F1Error):
    """Kafka, the Schema Registry, InfluxDB or Spark cannot be reached or used."""
