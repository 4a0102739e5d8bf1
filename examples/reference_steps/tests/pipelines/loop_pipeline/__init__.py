"""Steps of the reference loop_pipeline."""
