"""High Quality Processing: keep every record and flag the invalid ones."""

from ia_modules.pipeline.core import Step

from .quality_checker import is_valid


class HighQualityProcessorStep(Step):
    """Full processing: every record is kept, annotated with ``valid``."""

    async def run(self, data):
        records = data.get("ingested_data") or []
        level = self.config.get("processing_level", "full")
        processed = {
            "records": [{"value": r, "valid": is_valid(r)} for r in records],
            "kept": len(records),
            "discarded": 0,
            "quality_score": data.get("quality_score"),
        }
        return {"processed_data": processed, "processing_level": level}
