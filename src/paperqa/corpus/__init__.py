"""The corpus stage: PDFs fetched from arXiv or imported from disk, identity-checked, kept in a manifest."""
