"""seq2math.training."""
