"""seq2math.symbolic"""
