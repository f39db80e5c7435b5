"""seq2math.data.batching."""
