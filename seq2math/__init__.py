"""seq2math: mathematics with transformers.

Generate mathematical data sets, train transformers on them, decode with beam search,
and check every answer mathematically (tolerances for numbers, SOS certificates for
Lyapunov functions).
"""

__version__ = "0.1.0"
