"""paperqa: answers questions over a reading list of classic LLM papers, with citations."""

__version__ = "0.1.0"
