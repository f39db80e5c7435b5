"""Provers for non-polynomial conditions (docs/verification.md): exact reduction by substitution,
an SMT prover (cvc5) and interval branch-and-bound region certificates; each answers a ``ProverVerdict``."""
