"""The neural learner–verifier baseline (docs/baselines.md), in reading order:

options.py          ``NeuralOptions``: the budget and sizes of the loop (no torch: the CLI reads it)
network.py          the torch side: systems evaluated in torch, ``SquareNetwork`` (V positive definite
                    by construction) and its exact polynomial
counterexamples.py  the verifier: sampling and local search on the annulus, ``exact_region_check`` (z3)
region_sos.py       an exact SOS certificate of V̇ < 0 on the annulus (S-procedure), and its re-check
search.py           ``neural_lyapunov``: the learner–verifier loop; region and global results kept apart
method.py           the registered ``neural`` method of ``seq2math solve`` and the report

The command ``seq2math baseline neural`` lives in ``seq2math/commands/baseline.py``. Importing
this package imports no torch.
"""
