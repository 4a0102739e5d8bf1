"""Step API of the ia-go compatibility package."""

from .core import Step
from .errors import (
    ConfigurationError,
    DatabaseError,
    DependencyError,
    HTTPError,
    NetworkError,
    PipelineError,
    TimeoutError,  # noqa: A004 - the reference shadows the builtin too
    ValidationError,
)
from .services import ServiceRegistry

PipelineStep = Step

__all__ = [
    "Step",
    "PipelineStep",
    "ServiceRegistry",
    "PipelineError",
    "NetworkError",
    "HTTPError",
    "ValidationError",
    "TimeoutError",
    "DependencyError",
    "DatabaseError",
    "ConfigurationError",
]
