"""The lecture's experiments (``seq2math experiment NAME``; docs/experiments.md), in reading order:

base.py            Configuration (one `seq2math train` run), TestSet, ConfigResult, Experiment, registry
representation.py  roots from the expanded vs the factored form, tested on both; the lecture's example
architectures.py   seq2seq, decoder-only, RNN with attention, encoder-only on one task and budget
linalg.py          the nine linear-algebra tasks at 3×3 and 5×5 against the published figures
registry.py        imports the three experiments (registering them); get_experiment(name)
plots.py           accuracy bars and validation curves of a grid
runner.py          train each configuration under one budget (resumable), test it, write the report

Usage::

    from seq2math.experiments.registry import get_experiment
    from seq2math.experiments.runner import Budget, GridOptions, run_grid

    record = run_grid(get_experiment("representation"),
                      GridOptions(out=Path("exp/representation"), budget=Budget(time="10m"),
                                  build_config=my_build_config))   # train args -> RunConfig

``seq2math experiment`` passes ``seq2math.commands.train``'s own configuration builder, so a
configuration's training is exactly `seq2math train ARGS` (its command is saved in results.json).
"""
