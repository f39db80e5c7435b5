"""seq2math.evaluation."""
