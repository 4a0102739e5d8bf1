"""Completed Stats Collector: statistics over the merged streams."""

from ia_modules.pipeline.core import Step


class CompletedStatsCollectorStep(Step):
    """Summarises ``merged_results``; ``mean`` is total / total_records
    (0 when there are no records)."""

    async def run(self, data):
        merged = data.get("merged_results") or {}
        records = merged.get("total_records", 0)
        total = merged.get("total", 0)
        return {
            "statistics": {
                "streams": merged.get("stream_count", 0),
                "total_records": records,
                "total": total,
                "mean": total / records if records else 0,
                "complete": records == data.get("original_data_size"),
            }
        }
