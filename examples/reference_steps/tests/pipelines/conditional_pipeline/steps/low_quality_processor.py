"""Low Quality Processing: keep only the valid records."""

from ia_modules.pipeline.core import Step

from .quality_checker import is_valid


class LowQualityProcessorStep(Step):
    """Basic processing: invalid records are dropped."""

    async def run(self, data):
        records = data.get("ingested_data") or []
        level = self.config.get("processing_level", "basic")
        kept = [r for r in records if is_valid(r)]
        processed = {
            "records": [{"value": r, "valid": True} for r in kept],
            "kept": len(kept),
            "discarded": len(records) - len(kept),
            "quality_score": data.get("quality_score"),
        }
        return {"processed_data": processed, "processing_level": level}
