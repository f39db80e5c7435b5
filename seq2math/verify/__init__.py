"""seq2math.verify"""
