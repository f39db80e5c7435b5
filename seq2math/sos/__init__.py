"""Sum-of-squares machinery: numerical SOS programs, exact certificates, z3 (imports no torch).

In reading order (docs/verification.md explains what each step proves):

- ``newton``: the monomial basis of a Gram matrix (half Newton polytope, diagonal pruning)
- ``sdp``: SOS programs as sparse matrices, solved by Clarabel (SCS fallback); ``SolverStatus``
- ``ipm``: our Schur-complement interior-point method, for programs with large Gram blocks
- ``exact``: rounding a Gram matrix with a margin to an exact one, proved by exact LDLᵀ
- ``facial``: facial reduction when no Gram matrix has a margin (faces read off the solver's spectra)
- ``facial_lp``: faces found by linear programs (diagonally dominant certificates); ``facial_part``, both in turn
- ``gradient``: −V̇ as a Gram form over the polynomials x^m·∂ₖV (degenerate decrease conditions)
- ``prover``: z3 decides a polynomial sign condition exactly; ``Verdict``
- ``certificates``: certificate files and their independent re-check

Usage::

    from seq2math.sos.sdp import SOSCondition, SOSProgram, SolverStatus, solve_sos

    program = SOSProgram(nvars=2, nparams=0, conditions=[SOSCondition("p", {(2, 0): 1.0, (0, 2): 1.0})])
    solution = solve_sos(program)
    assert solution.status is SolverStatus.SOLVED and solution.margins[0] > 0
"""
