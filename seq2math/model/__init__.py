"""seq2math.model"""
