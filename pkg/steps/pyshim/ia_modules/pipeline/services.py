"""Service registry, compatible with IA Modules' pipeline.services."""


class ServiceRegistry:
    """Named services. ``get`` returns None for anything not provided, so
    steps written for IA Modules fall back (for example when there is no
    ``llm_provider``). The shim provides only ``run_context``: a dict with
    run_id, step_id, attempt, iteration and idempotency_key."""

    def __init__(self):
        self._services = {}

    def register(self, name, service):
        self._services[name] = service

    def get(self, name):
        return self._services.get(name)

    def has(self, name):
        return name in self._services

    async def cleanup_all(self):
        for svc in self._services.values():
            cleanup = getattr(svc, "cleanup", None)
            if callable(cleanup):
                result = cleanup()
                if hasattr(result, "__await__"):
                    await result
