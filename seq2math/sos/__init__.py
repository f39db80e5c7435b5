"""seq2math.sos."""
