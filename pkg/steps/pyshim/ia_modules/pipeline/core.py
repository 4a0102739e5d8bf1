"""Base Step class, compatible with IA Modules' pipeline.core.Step."""

import inspect
import logging

from .services import ServiceRegistry


class Step:
    """Base class for pipeline steps.

    Built as ``Step(name, config)``; the shim then sets ``services``. Override
    ``async def run(self, data)`` (or a sync one). For steps written against
    the README, overriding only ``execute(data)`` or ``work(data)`` works
    too: the base ``run`` calls whichever the subclass defines.
    """

    def __init__(self, name, config=None):
        self.name = name
        self.config = config if config is not None else {}
        self.logger = logging.getLogger("Step.%s" % name)
        self.error_config = self.config.get("error_handling", {}) if isinstance(self.config, dict) else {}
        self.continue_on_error = bool(self.error_config.get("continue_on_error", False))
        self.enable_fallback = bool(self.error_config.get("enable_fallback", False))
        self.services = ServiceRegistry()

    def get_db(self):
        return self.services.get("database") if self.services is not None else None

    def get_http(self):
        return self.services.get("http") if self.services is not None else None

    async def run(self, data):
        for name in ("execute", "work"):
            if callable(getattr(type(self), name, None)):
                result = getattr(self, name)(data)
                if inspect.isawaitable(result):
                    result = await result
                return result
        raise NotImplementedError(
            "Subclasses must implement run() method (or execute()/work())"
        )

    async def fallback(self, data, error):
        raise error
