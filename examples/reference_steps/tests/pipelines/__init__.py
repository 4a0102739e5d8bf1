"""Step packages of the reference sample pipelines, one per pipeline."""
