"""Publish Final Content: publish the approved draft."""

import re

from ia_modules.pipeline.core import Step


class PublishContentStep(Step):
    """Publishes ``draft`` under a URL made from the topic and revision."""

    async def run(self, data):
        draft = data.get("draft")
        if not draft:
            raise ValueError("publish_content: input 'draft' is required")
        slug = re.sub(r"[^a-z0-9]+", "-", str(data.get("topic") or "").lower()).strip("-")
        url = "https://content.example.com/%s/v%d" % (slug or "untitled", int(data.get("revision_count") or 1))
        return {
            "published_url": url,
            "final_draft": draft,
            "quality_score": data.get("quality_score"),
        }
