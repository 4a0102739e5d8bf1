"""Steps of the simple human-in-the-loop pipeline: prepare, ask a human,
finalise with the human's decision."""

from ia_modules.pipeline.core import Step


class PrepareDataStep(Step):
    """Packages the run input for the reviewer."""

    async def run(self, data):
        items = data.get("items") or []
        return {
            "prepared_data": {
                "message": self.config.get("message", "Preparing data for review"),
                "items": items,
                "item_count": len(items),
            },
            "ready_for_review": True,
        }


class SimpleHumanReviewStep(Step):
    """Pauses the branch: the engine opens a human task with this prompt and
    form, and the human's answer becomes this step's output."""

    async def run(self, data):
        prepared = data.get("prepared_data") or {}
        return {
            "status": "human_input_required",
            "prompt": self.config.get("prompt", "Please review the prepared data"),
            "timeout_seconds": self.config.get("timeout_seconds", 3600),
            "channels": self.config.get("channels", ["web"]),
            "assigned_users": self.config.get("assigned_users", []),
            "ui_schema": {
                "type": "review_approval",
                "title": "Review %d item(s)" % prepared.get("item_count", 0),
                "fields": [
                    {
                        "name": "decision",
                        "type": "radio",
                        "label": "Decision",
                        "options": ["approve", "reject"],
                        "required": True,
                    },
                    {"name": "comments", "type": "textarea", "label": "Comments"},
                ],
            },
        }


class FinalizeStep(Step):
    """Acts on the decision (``decision``, or ``human_decision`` as some
    reference callers send it)."""

    async def run(self, data):
        decision = data.get("decision") or data.get("human_decision") or "unknown"
        status = {"approve": "approved", "reject": "rejected"}.get(decision, decision)
        return {
            "final_status": status,
            "comments": data.get("comments") or "",
            "message": "%s: decision %s" % (self.config.get("message", "Finalized"), decision),
        }
