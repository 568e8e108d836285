"""The parse stage: PDF pages to clean text, sections and `Chunk` records; the page-text store."""
