"""Draft Content: write (or rewrite) a draft about the topic."""

from ia_modules.pipeline.core import Step


class DraftContentStep(Step):
    """Each visit writes the next revision. On a rewrite, the merged view
    holds the previous draft's ``revision_count`` and the review's
    ``feedback``."""

    async def run(self, data):
        topic = data.get("topic")
        if not topic:
            raise ValueError("draft_content: input 'topic' is required")
        revision = int(data.get("revision_count") or 0) + 1
        draft = "Draft v%d about %s" % (revision, topic)
        feedback = data.get("feedback")
        if revision > 1 and feedback:
            draft += " (revised after: %s)" % feedback
        return {"draft": draft, "revision_count": revision}
