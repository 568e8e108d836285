"""`paperqa serve`: a thin loader for the web chat that lives in ui/app.py.

The chat is kept out of the package code so the UI can change without touching the pipeline;
this module only finds ui/app.py, imports it by path and hands it the Library. In a checkout
(editable install) that is <checkout>/ui; an installed wheel carries the same folder, with the
reader's static files and the vendored PDF.js, as paperqa/ui (pyproject's force-include).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from ..errors import PaperqaError
from ..settings import PACKAGE_DIR, checkout_root

if TYPE_CHECKING:
    from ..library import Library

MODULE_NAME = "paperqa_ui_app"


class WebAppNotFoundError(PaperqaError, FileNotFoundError):
    """ui/app.py is not where it should be (e.g. an installed wheel without the checkout)."""


def app_path() -> Path:
    """Where the web chat lives: <checkout>/ui/app.py, else the wheel's paperqa/ui/app.py."""
    root = checkout_root()
    candidates = ([root / "ui" / "app.py"] if root is not None else []) + [PACKAGE_DIR / "ui" / "app.py"]
    for path in candidates:
        if path.is_file():
            return path
    where = " or ".join(str(p) for p in candidates)
    raise WebAppNotFoundError(
        f"the web chat (ui/app.py) is missing: looked for {where}; restore it (git checkout ui) "
        "or reinstall paperqa"
    )


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
