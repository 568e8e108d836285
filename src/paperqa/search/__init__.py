"""The search stage: tokens and vectors, the index and its backends, retrieval and ranking of passages."""
