"""Steps of the reference simple_hitl_pipeline."""
