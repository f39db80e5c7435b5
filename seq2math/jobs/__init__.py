"""Long jobs of every layer (generation, checking, evaluation, reports, training), in reading order:

workers.py   ``run_jobs``: a function over many items in worker processes killed at a hard time
             limit (C solvers and z3 do not return to Python, so a late job is killed with its
             process); ``TIMED_OUT`` and ``JobError`` stand for the items that did not finish
progress.py  ``Progress`` / ``track``: a bar on a terminal, periodic log lines otherwise
files.py     crash-safe writes: ``write_atomically`` (temp file + os.replace) and
             ``drop_torn_tail`` (the torn last line a kill leaves is cut off and redone)

Usage::

    from seq2math.jobs.workers import TIMED_OUT, run_jobs

    for item, answer in run_jobs(check_one_line, lines, workers=2, timeout=60):
        if answer is TIMED_OUT:
            ...

This package sits below all of them (docs/architecture.md) and imports nothing of seq2math.
"""
