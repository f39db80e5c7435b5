"""Evaluation by verification, not string match, in reading order:

decode.py    sources -> ranked hypotheses (greedy or beam search), length caps, too-long sources
pool.py      hypotheses -> verdicts: safe_verify (errors and solver panics never stop a run),
             verify_ranked (rank order, stop at the first full pass), Verifier (worker processes)
metrics.py   verdicts -> per-example records -> summary report (top-1, any-of-K, undecided,
             invalid, per size), the printed table and eval.json
evaluate.py  the one decode -> verify -> metrics loop (check_examples) and its two drivers:
             evaluate_examples (``seq2math evaluate``, resumable) and validate (training)
masked.py    the answers of an encoder-only model: a masked target of fixed length, filled and verified
plots.py     training curves, accuracy tables and attention maps (matplotlib)

What each verdict proves: docs/verification.md. Usage::

    from seq2math.evaluation.evaluate import EvalOptions, evaluate_examples
    from seq2math.evaluation.metrics import format_table

    report = evaluate_examples(model, task, vocab, examples, EvalOptions(beam=10, workers=2))
    print(format_table(report))
"""
