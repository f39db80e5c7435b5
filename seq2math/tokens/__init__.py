"""Mathematics as tokens (docs/formats.md), in reading order:

vocab.py     ``Vocab`` (token <-> id) and the one home of the special tokens and their ids
             (``PAD_ID`` .. ``MASK_ID``)
reading.py   what every token reader shares: the position where it stopped, canonical integers
numbers.py   number encodings P10, P10P, P1000, B1999, FP15 and INT (``get_encoding``)
matrices.py  matrices and vectors as tokens: ``V{rows} V{cols}`` + entries
prefix.py    the prefix (Polish) format of expressions and systems, both ways
infix.py     reading human (infix) syntax, with position-accurate errors (writing is
             ``seq2math.symbolic.expr.to_infix``)

Usage::

    from seq2math.tokens.infix import parse_infix
    from seq2math.tokens.prefix import expression_tokens

    expression_tokens(parse_infix("x0^2 + 3*x1"))   # ['+', '^', 'x0', 'INT+', '2', '*', 'INT+', '3', 'x1']

Lines of data files (``COUNT|SOURCE<TAB>TARGET``, JSONL) are read by ``seq2math.data.files``.
"""
