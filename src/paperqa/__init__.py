"""paperqa: answers questions over a reading list of classic LLM papers, with citations."""

__version__ = "0.1.0"

from .library import Library  # noqa: E402
from .settings import Settings  # noqa: E402

__all__ = ["Library", "Settings", "__version__"]
