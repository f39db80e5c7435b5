"""seq2math.lyapunov.methods.neural."""
