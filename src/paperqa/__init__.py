"""paperqa: answers questions over a reading list of classic LLM papers, with citations."""

__version__ = "0.1.0"

from .library import Library  # noqa: E402
from .settings import Settings  # noqa: E402

__all__ = ["Conversation", "Library", "Settings", "Turn", "__version__"]


def __getattr__(name: str):
    """`Conversation` and `Turn` (conversation.py) on first use: `import paperqa` stays light."""
    if name in ("Conversation", "Turn"):
        from . import conversation

        return getattr(conversation, name)
    raise AttributeError(f"module 'paperqa' has no attribute {name!r}")
