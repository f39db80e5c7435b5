"""seq2math.baselines"""
