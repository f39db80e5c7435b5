"""Mathematics as tokens: numbers, matrices, prefix expressions, vocabularies."""
