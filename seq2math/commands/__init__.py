"""One module per ``seq2math`` subcommand (see ``seq2math.cli``)."""
