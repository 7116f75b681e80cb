"""The one base of Signpost's exceptions. Messages name a field or a setting, never a value."""

__all__ = ["ConfigError", "InfrastructureError", "SignpostError"]


class SignpostError(Exception):
    """Base of every error Signpost raises on purpose."""


class ConfigError(SignpostError):
    """A setting is missing, a placeholder, or inconsistent."""


class InfrastructureError(SignpostError):
    """A server (broker, Redis) could not be reached or started: retry, never dead-letter."""
