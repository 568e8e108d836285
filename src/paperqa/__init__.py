"""paperqa: answers questions over a reading list of classic LLM papers, with citations."""

__version__ = "0.1.0"

from .answer.ask import Conversation  # noqa: E402  (after __version__, which the stages read)
from .answer.conversation import Turn  # noqa: E402
from .library import Library  # noqa: E402
from .settings import Settings  # noqa: E402

__all__ = ["Conversation", "Library", "Settings", "Turn", "__version__"]
