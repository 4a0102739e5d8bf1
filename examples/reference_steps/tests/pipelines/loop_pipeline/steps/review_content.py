"""Review Content Quality: score the draft and decide whether to publish."""

from ia_modules.pipeline.core import Step


class ReviewContentStep(Step):
    """Scores revision n as 50 + 15n (65, 80, 95, ...) capped at 100, and
    approves a score of at least ``config.approval_threshold`` (default 75),
    or any draft once ``max_revisions`` (config, else the run input, else 5)
    is reached."""

    async def run(self, data):
        revision = int(data.get("revision_count") or 1)
        score = min(100, 50 + 15 * revision)
        threshold = self.config.get("approval_threshold", 75)
        max_revisions = int(self.config.get("max_revisions") or data.get("max_revisions") or 5)
        approved = score >= threshold or revision >= max_revisions
        if score >= threshold:
            feedback = "good to publish"
        elif approved:
            feedback = "published at the revision limit"
        else:
            feedback = "needs more depth (score %d, wants %d)" % (score, threshold)
        return {"approved": approved, "feedback": feedback, "quality_score": score}
