"""For humans: the `paperqa` CLI, the web chat loader, and rich rendering of results and progress."""
