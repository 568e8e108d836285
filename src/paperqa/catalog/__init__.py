"""The catalog stage: the reading lists parsed, checked against papers.toml, merged into `Paper` records."""
