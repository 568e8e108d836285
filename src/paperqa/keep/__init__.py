"""What is kept of answers: the local history (SQLite) and Markdown / BibTeX export."""
