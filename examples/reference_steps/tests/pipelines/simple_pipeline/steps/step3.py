"""Data Finalization: summarise what the earlier steps produced."""

from ia_modules.pipeline.core import Step


class Step3(Step):
    """Builds a one-line ``summary`` from the topic and step2's keywords."""

    async def run(self, data):
        topic = data.get("topic") or ""
        keywords = data.get("keywords") or []
        summary = "%s (%d keywords: %s)" % (topic, len(keywords), ", ".join(keywords))
        return {"topic": topic, "summary": summary, "finalized": True}
