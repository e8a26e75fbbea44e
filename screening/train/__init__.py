"""Training, export and evaluation of the detection models (needs torch; imported only by train/evaluate)."""
