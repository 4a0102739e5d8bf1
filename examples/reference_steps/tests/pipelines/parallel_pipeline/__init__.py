"""Steps of the reference parallel_pipeline."""
