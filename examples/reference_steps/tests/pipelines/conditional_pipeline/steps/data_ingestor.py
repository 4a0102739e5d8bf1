"""Data Ingestor: take the raw records of the run."""

from ia_modules.pipeline.core import Step


class DataIngestorStep(Step):
    """Copies ``test_data`` (a list) into ``ingested_data``."""

    async def run(self, data):
        records = data.get("test_data")
        if not isinstance(records, list):
            raise ValueError("data_ingestor: input 'test_data' must be a list")
        return {"ingested_data": list(records), "record_count": len(records)}
