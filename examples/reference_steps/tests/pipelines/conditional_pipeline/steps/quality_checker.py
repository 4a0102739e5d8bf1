"""Quality Checker: score the ingested records."""

from ia_modules.pipeline.core import Step


def is_valid(record):
    """A record is valid when it is not null or empty and, for an object,
    none of its values is null."""
    if record is None or record == "" or record == [] or record == {}:
        return False
    if isinstance(record, dict):
        return all(v is not None for v in record.values())
    return True


class QualityCheckerStep(Step):
    """``quality_score`` is the share of valid records (0 when there are
    none); the flow routes on it against the ``threshold`` parameter."""

    async def run(self, data):
        records = data.get("ingested_data") or []
        valid = sum(1 for r in records if is_valid(r))
        score = valid / len(records) if records else 0.0
        return {
            "ingested_data": records,
            "quality_score": score,
            "valid_records": valid,
            "invalid_records": len(records) - valid,
        }
