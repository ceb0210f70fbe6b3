"""Modules the libraries import but a build never uses, loaded on their first use instead."""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
from types import ModuleType

#: Imported at start-up by a library, used by deckgen only on paths a build rarely takes:
#: urllib.request comes with python-pptx's `xml.sax.saxutils` (for fetching XML from
#: URLs, which deckgen never does) and brings the HTTP client, ssl, email and hashlib
#: (~15 ms); PIL.ExifTags, imported by `PIL.Image`, builds enums of every EXIF tag (~5 ms)
#: that are read only when a photo carries an orientation; hashlib, imported by python-pptx
#: for the digests of its image parts (render.py makes those parts itself, without them),
#: starts OpenSSL (~3 ms) and is needed only by the picture cache of `build --watch`.
DEFERRED_MODULES = ("urllib.request", "PIL.ExifTags", "hashlib")

#: Held while a deferred module's code runs: another thread that needs the module waits.
_running_lock = threading.RLock()
#: The deferred modules whose code is running (in the thread that holds the lock).
_running: set[str] = set()


def defer_unused_imports(names: tuple[str, ...] = DEFERRED_MODULES) -> None:
    """Put each module in `sys.modules` with its code not yet run: importing it then costs
    nothing, and the code runs when the module is first asked for a name it lacks, given
    or relieved of one, or listed (dir). importlib's LazyLoader would run it at once in
    Python 3.11, as the import statement reads the module's `__spec__`. Meant for the start
    of a command, before other threads import anything; modules already imported, and
    modules that cannot be found, are left alone."""
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
        module.__class__ = _Deferred
        sys.modules[name] = module
        if parent is not None:
            setattr(parent, child, module)


class _Deferred(ModuleType):
    """A module whose code has not run yet; once it has, the module is a plain one again."""

    def __getattr__(self, name: str) -> object:  # only for names the module lacks
        run_deferred(self)
        if type(self) is _Deferred:  # asked by its own code, while it runs
            raise AttributeError(f"partially initialized module {self.__name__!r} has no "
                                 f"attribute {name!r}")
        return getattr(self, name)

    def __setattr__(self, name: str, value: object) -> None:
        run_deferred(self)  # first, so that the module's code does not undo the assignment
        ModuleType.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        run_deferred(self)
        ModuleType.__delattr__(self, name)

    def __dir__(self) -> list[str]:
        run_deferred(self)
        return list(ModuleType.__dir__(self))


def run_deferred(module: ModuleType) -> None:
    """Run a deferred module's code, once; its own lookups while it runs get nothing. If the
    code fails, the module leaves `sys.modules`, as a failed import does, and the error is
    raised. A module whose code already ran is only made plain."""
    with _running_lock:
        if type(module) is not _Deferred or module.__name__ in _running:
            return
        _running.add(module.__name__)
        try:
            if "__builtins__" not in vars(module):  # set by running the module's code
                assert module.__spec__ is not None and module.__spec__.loader is not None
                module.__spec__.loader.exec_module(module)
        except BaseException:
            if sys.modules.get(module.__name__) is module:
                del sys.modules[module.__name__]
            raise
        finally:
            _running.discard(module.__name__)
            ModuleType.__setattr__(module, "__class__", ModuleType)
