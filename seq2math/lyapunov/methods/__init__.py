"""seq2math.lyapunov.methods."""
