"""`paperqa serve`: a thin loader for the web chat that lives in the checkout's ui/app.py.

The chat is kept out of the package so the UI can change without touching the pipeline;
this module only finds ui/app.py, imports it by path and hands it the Library.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from .errors import PaperqaError
from .settings import checkout_root

if TYPE_CHECKING:
    from .library import Library

MODULE_NAME = "paperqa_ui_app"


class WebAppNotFoundError(PaperqaError, FileNotFoundError):
    """ui/app.py is not where it should be (e.g. an installed wheel without the checkout)."""


def app_path() -> Path:
    """Where the web chat lives: <checkout>/ui/app.py."""
    root = checkout_root()
    if root is None:
        raise WebAppNotFoundError(
            "the web chat (ui/app.py) ships with the source checkout, not with the installed package; "
            "run `paperqa serve` from an editable install (`pip install -e .` in the checkout, as `make run` does)"
        )
    path = root / "ui" / "app.py"
    if not path.is_file():
        raise WebAppNotFoundError(
            f"{path} not found: the checkout is incomplete; restore ui/app.py (git checkout ui)"
        )
    return path


def load_app_module(path: Path | None = None) -> ModuleType:
    """Import ui/app.py by path (once per process; dataclasses need it in sys.modules)."""
    path = (path or app_path()).resolve()
    if not path.is_file():
        raise WebAppNotFoundError(f"{path} not found: the web chat needs ui/app.py from the checkout")
    loaded = sys.modules.get(MODULE_NAME)
    if loaded is not None and Path(getattr(loaded, "__file__", "")).resolve() == path:
        return loaded
    spec = importlib.util.spec_from_file_location(MODULE_NAME, path)
    if spec is None or spec.loader is None:
        raise WebAppNotFoundError(f"{path}: cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[MODULE_NAME] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(MODULE_NAME, None)
        raise
    return module


def launch(lib: Library) -> None:
    """Start the web chat on settings.host:settings.port (127.0.0.1:7860 by default) and block."""
    module = load_app_module()
    start = getattr(module, "launch", None)
    if start is None:
        raise WebAppNotFoundError(f"{module.__file__} has no launch(lib) function")
    start(lib)
