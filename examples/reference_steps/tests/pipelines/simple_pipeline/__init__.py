"""Steps of the reference simple_pipeline."""
