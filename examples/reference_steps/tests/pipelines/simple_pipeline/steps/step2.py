"""Data Enrichment: derive keywords from the topic."""

from ia_modules.pipeline.core import Step


class Step2(Step):
    """Adds the topic's distinct lower-case words, sorted, as ``keywords``."""

    async def run(self, data):
        topic = data.get("topic") or ""
        keywords = sorted({w.lower() for w in topic.split()})
        return {"topic": topic, "keywords": keywords, "enriched": True}
