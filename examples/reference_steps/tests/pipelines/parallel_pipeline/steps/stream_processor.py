"""Stream Processor: analyse one chunk; three instances run in parallel."""

from ia_modules.pipeline.core import Step


class StreamProcessorStep(Step):
    """Processes chunk number ``config.stream_id`` (1-based) of
    ``data_chunks``: counts its items and sums the numeric ones."""

    async def run(self, data):
        stream_id = int(self.config.get("stream_id", 1))
        chunks = data.get("data_chunks") or []
        chunk = chunks[stream_id - 1] if 0 < stream_id <= len(chunks) else []
        numbers = [v for v in chunk if isinstance(v, (int, float)) and not isinstance(v, bool)]
        return {
            "processed_data": {
                "stream_id": stream_id,
                "processing_type": self.config.get("processing_type", "analytics"),
                "items": chunk,
                "record_count": len(chunk),
                "sum": sum(numbers),
            }
        }
