"""seq2math.jobs."""
