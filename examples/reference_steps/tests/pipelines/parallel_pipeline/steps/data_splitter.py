"""Data Splitter: cut the loaded data into contiguous chunks."""

from ia_modules.pipeline.core import Step


class DataSplitterStep(Step):
    """Splits ``loaded_data`` into ``config.split_count`` (default 3)
    contiguous chunks of at most ceil(n / split_count) items; there are
    always split_count chunks, the last ones possibly empty."""

    async def run(self, data):
        items = data.get("loaded_data")
        if not isinstance(items, list):
            raise ValueError("data_splitter: input 'loaded_data' must be a list")
        count = int(self.config.get("split_count", 3))
        if count < 1:
            raise ValueError("data_splitter: split_count must be at least 1")
        size = -(-len(items) // count)  # ceil
        chunks = [items[i * size:(i + 1) * size] for i in range(count)]
        return {
            "data_chunks": chunks,
            "chunk_count": count,
            "original_data_size": len(items),
        }
