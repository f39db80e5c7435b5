"""Verification of Lyapunov and barrier candidates: SOS certificates made exact (with facial
reduction when no Gram matrix has a margin), z3, falsification.

The entry point is :func:`check_candidate` (see ``seq2math.verify.check``).
"""

from seq2math.verify.check import CHECKS, CheckResult, check_candidate

__all__ = ["CHECKS", "CheckResult", "check_candidate"]
