"""Example Python steps for ia-go, one per way the shim can call a step.

Run through the Go worker with --python-path examples/python and
"module": "demo_steps" in the pipeline JSON.
"""

import asyncio

from ia_modules.pipeline import PipelineStep
from ia_modules.pipeline.core import Step
from ia_modules.pipeline.errors import NetworkError


class SyncRunStep(Step):
    """A plain synchronous run()."""

    def run(self, data):
        return {"greeting": "hello %s" % data.get("name", "world")}


class AsyncRunStep(Step):
    """The reference contract: async def run()."""

    async def run(self, data):
        await asyncio.sleep(0)
        return {"doubled": data.get("value", 0) * 2}


class ExecuteOnlyStep(Step):
    """README style: only execute() is defined."""

    def execute(self, data):
        return {"executed": True, "step": self.name}


class WorkOnlyStep(PipelineStep):
    """Only an async work() is defined."""

    async def work(self, data):
        return {"worked": True}


class ConfiguredStep(Step):
    """Reads self.config and data.get(), prints (which must not corrupt the
    protocol) and logs, and uses a service that is not provided."""

    async def run(self, data):
        print("this print goes to stderr, not to the protocol")
        self.logger.warning("scaling %s", data.get("value"))
        llm = self.services.get("llm_provider")
        factor = self.config.get("factor", 1)
        ctx = self.services.get("run_context") or {}
        return {
            "scaled": data.get("value", 0) * factor,
            "used_llm": llm is not None,
            "attempt": ctx.get("attempt"),
        }


class FailingStep(Step):
    """Raises: config.kind picks the exception, to show the classification."""

    def run(self, data):
        kind = self.config.get("kind", "value")
        if kind == "connection":
            raise ConnectionError("upstream refused the connection")
        if kind == "network":
            raise NetworkError("flaky upstream")
        raise ValueError("bad value: %r" % data.get("value"))


class ReviewStep(Step):
    """Pauses the branch for a human."""

    async def run(self, data):
        return {
            "status": "human_input_required",
            "prompt": "Approve %s?" % data.get("name", "this"),
            "ui_schema": {
                "type": "review_approval",
                "fields": [{"name": "decision", "type": "radio",
                            "options": ["approve", "reject"]}],
            },
            "timeout_seconds": self.config.get("timeout_seconds", 3600),
        }


class NonDictStep(Step):
    """Returns a non-dict; the engine stores it under the step id."""

    def run(self, data):
        return [1, 2, 3]
