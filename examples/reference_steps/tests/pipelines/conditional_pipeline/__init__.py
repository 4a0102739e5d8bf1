"""Steps of the reference conditional_pipeline."""
