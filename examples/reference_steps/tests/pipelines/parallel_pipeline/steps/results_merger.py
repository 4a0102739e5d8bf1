"""Results Merger: the join of the parallel streams."""

import re

from ia_modules.pipeline.core import Step

_KEY = re.compile(r"^processed_data_(\d+)$")


class ResultsMergerStep(Step):
    """Merges every declared input named processed_data_<n> (one per stream),
    in stream order."""

    async def run(self, data):
        keyed = sorted(
            (int(m.group(1)), data[k])
            for k in data
            for m in [_KEY.match(k)]
            if m and isinstance(data[k], dict)
        )
        streams = [p for _, p in keyed]
        return {
            "merged_results": {
                "stream_count": len(streams),
                "streams": [p.get("stream_id") for p in streams],
                "items": [v for p in streams for v in p.get("items", [])],
                "total_records": sum(p.get("record_count", 0) for p in streams),
                "total": sum(p.get("sum", 0) for p in streams),
            }
        }
