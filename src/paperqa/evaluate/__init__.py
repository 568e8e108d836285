"""Evaluation: question and conversation files, and the retrieval and answer metrics over them."""
