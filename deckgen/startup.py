"""Modules the libraries import but a build never uses, loaded on their first use instead."""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
from collections.abc import Callable
from importlib.machinery import ModuleSpec
from types import ModuleType

#: Imported at start-up by a library, used by deckgen only on paths a build rarely takes:
#: urllib.request comes with python-pptx's `xml.sax.saxutils` (for fetching XML from
#: URLs, which deckgen never does) and brings the HTTP client, ssl, email and hashlib
#: (~15 ms); PIL.ExifTags, imported by `PIL.Image`, builds enums of every EXIF tag (~5 ms)
#: that are read only when a photo carries an orientation; hashlib, imported by python-pptx
#: for image digests deckgen does not ask for, starts OpenSSL (~3 ms) and is needed only
#: by the picture cache of `build --watch`.
DEFERRED_MODULES = ("urllib.request", "PIL.ExifTags", "hashlib")


def defer_unused_imports(names: tuple[str, ...] = DEFERRED_MODULES) -> None:
    """Put each module in `sys.modules` unexecuted: importing it then costs nothing, and
    its code runs on the first lookup of a name it defines (a module `__getattr__`, PEP
    562; importlib's LazyLoader would run it at once, as the import statement reads its
    `__spec__`). Modules already imported, and modules that cannot be found, are left
    alone."""
    for name in names:
        if name in sys.modules:
            continue
        parent_name, _, child = name.rpartition(".")
        try:
            parent = importlib.import_module(parent_name) if parent_name else None
            spec = importlib.util.find_spec(name)
        except ImportError:
            continue
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            continue
        module = importlib.util.module_from_spec(spec)
        module.__getattr__ = _loader_on_first_use(module, spec)  # type: ignore[method-assign]
        sys.modules[name] = module
        if parent is not None:
            setattr(parent, child, module)


def _loader_on_first_use(module: ModuleType, spec: ModuleSpec) -> Callable[[str], object]:
    """A module `__getattr__` that runs the module's code, once, then looks up `name`.
    Another thread that asks meanwhile waits for the code to finish; a lookup the code
    itself makes before it defines the name fails, as in any module still being imported."""
    lock = threading.RLock()
    started = False

    def load_and_get(name: str) -> object:
        nonlocal started
        with lock:
            if not started:
                started = True
                assert spec.loader is not None
                spec.loader.exec_module(module)
                if module.__dict__.get("__getattr__") is load_and_get:
                    del module.__dict__["__getattr__"]
            elif module.__dict__.get("__getattr__") is load_and_get:
                raise AttributeError(f"partially initialized module {module.__name__!r} "
                                     f"has no attribute {name!r}")
        return getattr(module, name)  # AttributeError if the module has no such name

    return load_and_get
