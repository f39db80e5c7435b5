"""Data: the files of examples, their generation, the tools that edit them, and training batches.

In reading order:

files.py       one reader and one writer per file format (tsv, prefix ``COUNT|``, jsonl): Record,
               RecordReader / read_records / read_examples, format_line / write_lines; FILE:LINE errors;
               ExampleIndex (byte offsets + memory map: training files never held whole)
generation.py  seeded, parallel, resumable data sets: example i of seed s is default_rng([s, i])
shards.py      ``--shard i/N`` blocks, the shard sidecars and the checks of ``seq2math data merge``
tools.py       dedup, split by source (no overlap), mix by counts and weights (``seq2math data``)
stats.py       sizes and histograms of a file (``seq2math data stats``)
batching.py    training batches: file or on-the-fly examples, padding, masking, sharding (torch)
buckets.py     token budgets (``train.batch_tokens``): what a batch costs, length buckets, pools (numpy)
token_batches.py  the token-budget batches of every step (torch), pure in (seed, step, rank)
heldout.py     the test systems an on-the-fly run has not trained on

Usage::

    from seq2math.data.files import read_examples
    from seq2math.data.generation import write_dataset

    write_dataset(task, "train.txt", count=1000, seed=0)
    for line, source, target in read_examples(task, "train.txt"):
        ...

Nothing is imported here, so ``import seq2math.data.files`` does not load torch.
"""
