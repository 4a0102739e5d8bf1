"""Results Aggregator: summarise whichever branch ran."""

from ia_modules.pipeline.core import Step


class ResultsAggregatorStep(Step):
    """Reads ``processed_data`` (the declared input takes step3's or step4's,
    whichever ran) and ``processing_level`` from the branch's output."""

    async def run(self, data):
        processed = data.get("processed_data")
        if not isinstance(processed, dict):
            raise ValueError("results_aggregator: input 'processed_data' is missing")
        return {
            "aggregated_results": {
                "processing_level": data.get("processing_level"),
                "quality_score": processed.get("quality_score"),
                "kept": processed.get("kept"),
                "discarded": processed.get("discarded"),
                "values": [r.get("value") for r in processed.get("records", [])],
            }
        }
