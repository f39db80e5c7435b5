"""seq2math.lyapunov."""
