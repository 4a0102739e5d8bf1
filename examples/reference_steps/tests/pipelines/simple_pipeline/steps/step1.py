"""Data Preparation: normalise the topic."""

from ia_modules.pipeline.core import Step


class Step1(Step):
    """Collapses the whitespace of ``topic``; a missing topic is an error."""

    async def run(self, data):
        topic = " ".join(str(data.get("topic") or "").split())
        if not topic:
            raise ValueError("step1: input 'topic' is required")
        return {"topic": topic, "prepared": True}
