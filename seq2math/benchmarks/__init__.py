"""Benchmarks behind ``seq2math bench``; each prints a ratio against a baseline measured in the same run."""
