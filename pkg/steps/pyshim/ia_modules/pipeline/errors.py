"""Error classes, compatible with IA Modules' pipeline.errors.

``recoverable`` decides whether the Go worker may retry the step.
"""


class PipelineError(Exception):
    category = "unknown"
    severity = "error"
    default_recoverable = False

    def __init__(self, message="", category=None, severity=None, step_id=None,
                 recoverable=None, context=None, original_exception=None):
        super().__init__(message)
        self.message = message
        self.category = category or type(self).category
        self.severity = severity or type(self).severity
        self.step_id = step_id
        self.recoverable = type(self).default_recoverable if recoverable is None else recoverable
        self.context = context or {}
        self.original_exception = original_exception


class NetworkError(PipelineError):
    category = "network"
    default_recoverable = True


class HTTPError(NetworkError):
    def __init__(self, message="", status_code=None, **kwargs):
        super().__init__("HTTP %s: %s" % (status_code, message) if status_code else message, **kwargs)
        self.context["status_code"] = status_code


class ValidationError(PipelineError):
    category = "validation"


class TimeoutError(PipelineError):  # noqa: A001 - same name as the reference
    category = "timeout"
    default_recoverable = True


class ResourceError(PipelineError):
    category = "resource"
    severity = "critical"


class DependencyError(PipelineError):
    category = "dependency"
    default_recoverable = True


class DatabaseError(DependencyError):
    pass


class APIError(DependencyError):
    pass


class LogicError(PipelineError):
    category = "logic"


class ConfigurationError(PipelineError):
    category = "configuration"
    severity = "critical"
