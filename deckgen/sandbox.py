"""Child processes that end with the build that started them (picture pool workers), and
work run in a child process of its own within limits of memory and time (drawing an SVG)."""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import multiprocessing.connection
    import multiprocessing.context

Result = TypeVar("Result")

#: Linux's prctl option that sends a signal to a process when its parent exits.
PR_SET_PDEATHSIG = 1
#: How often a child checks that its parent is alive where Linux's prctl is not available.
PARENT_POLL_SECONDS = 0.5


class Stopped(Exception):
    """Work in a limited child process that was stopped; the message says which limit."""


class Failed(RuntimeError):
    """What work in a limited child process raised, as text ("CairoError: …"), when that
    exception cannot be sent to the parent as itself (its class takes other arguments
    than a message), or what the parent could not read back of the child's answer."""


def end_with_parent(parent: int) -> None:
    """Make this process (a child of `parent`) end as soon as its parent does, even killed
    with SIGKILL: Linux's PR_SET_PDEATHSIG, else a thread that checks the parent's id.
    Used as the picture pool's worker initializer, and by every limited child."""
    if not _death_signal():
        threading.Thread(target=_watch_parent, args=(parent,), daemon=True,
                         name="deckgen-parent-watch").start()
    if os.getppid() != parent:  # the parent was gone before the request was made
        os._exit(1)


def _death_signal() -> bool:
    """Ask Linux to send SIGKILL to this process when its parent exits."""
    if sys.platform != "linux":
        return False
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_SECONDS)
    os._exit(1)


def run_limited(function: Callable[..., Result], args: tuple[Any, ...], memory: int,
                cpu_seconds: int, wall_seconds: float) -> Result:
    """`function(*args)` run in a child process that may use `memory` bytes of address
    space more than it starts with and `cpu_seconds` of CPU time, and is killed after
    `wall_seconds` (or when this process ends): its result, or what it raised (a
    MemoryError past the memory limit), or `Stopped` when a limit of time stopped it."""
    context = _context()
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_child, name="deckgen-limited", daemon=True,
                            args=(sender, os.getpid(), function, args, memory, cpu_seconds))
    try:
        child.start()
    except BaseException:
        receiver.close()
        raise
    finally:
        sender.close()
    try:
        if not receiver.poll(wall_seconds):
            raise Stopped(f"took more than {wall_seconds:g} s; stopped")
        try:
            status, value = receiver.recv()
        except EOFError:
            child.join(1)
            raise Stopped(_stop_reason(child.exitcode, cpu_seconds)) from None
        except MemoryError:
            raise
        except Exception as exc:  # an answer that cannot be unpickled here
            raise Failed(f"its answer could not be read ({type(exc).__name__}: {exc})"
                         ) from None
    finally:
        if child.is_alive():
            child.kill()
        child.join()
        child.close()
        receiver.close()
    if status == "raised":
        raise value
    return value  # type: ignore[no-any-return]


def _stop_reason(exitcode: int | None, cpu_seconds: int) -> str:
    """Why a limited child ended without an answer, by the signal that ended it (there are
    no SIGXCPU and SIGKILL on Windows)."""
    ended_by = -exitcode if exitcode is not None and exitcode < 0 else None
    if ended_by is not None and ended_by == getattr(signal, "SIGXCPU", None):
        return f"took more than {cpu_seconds} s of processor time; stopped"
    if ended_by is not None and ended_by == getattr(signal, "SIGKILL", None):
        return "was killed (past its limit of processor time or memory)"
    return f"stopped unexpectedly (exit code {exitcode})"


def _context() -> multiprocessing.context.ForkContext | multiprocessing.context.DefaultContext:
    """fork on Linux (a child starts in milliseconds, with what is imported); the
    platform's default elsewhere."""
    import multiprocessing

    if sys.platform == "linux":
        import ctypes  # noqa: F401  (imported once here, not in every child: `_death_signal`)

        return multiprocessing.get_context("fork")
    return multiprocessing.get_context()


def _child(sender: multiprocessing.connection.Connection, parent: int,
           function: Callable[..., object], args: tuple[Any, ...], memory: int,
           cpu_seconds: int) -> None:
    """The limited child: its limits set, `function` run, its outcome sent; it never
    prints (a Ctrl-C or SIGTERM ends it quietly, as the build stops)."""
    try:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        end_with_parent(parent)
        _limit(memory, cpu_seconds)
        outcome: tuple[str, object] = ("returned", function(*args))
    except Exception as exc:  # sent to the parent, which raises it
        outcome = ("raised", _sendable(exc))
    except BaseException as exc:  # SystemExit, a Ctrl-C before the default was restored
        outcome = ("raised", RuntimeError(f"{type(exc).__name__}: {exc}"))
    try:
        try:
            sender.send(outcome)
        except (pickle.PicklingError, TypeError, AttributeError, ValueError):
            sender.send(("raised", Failed(_described(outcome[1]))))
        sender.close()
    except BaseException:  # the parent is gone or stops: there is no one to tell
        pass


def _sendable(exc: Exception) -> Exception:
    """`exc` itself when the parent can read it back as it was raised (pickled and
    unpickled to the same type and message), else `Failed` with its type and message."""
    try:
        copy = pickle.loads(pickle.dumps(exc))
    except Exception:  # a class that takes other arguments than a message
        return Failed(_described(exc))
    if type(copy) is not type(exc) or str(copy) != str(exc):
        return Failed(_described(exc))
    return exc


def _described(value: object) -> str:
    """An exception as one line: its type and message ("CairoError: cairo returned …")."""
    text = " ".join(str(value).split())
    name = type(value).__name__
    return f"{name}: {text}" if text else name


def _limit(memory: int, cpu_seconds: int) -> None:
    """Limit this process's address space to `memory` bytes more than it uses now, its CPU
    time to `cpu_seconds` (then SIGXCPU, and SIGKILL a second later), and write no core
    file (which would land in the user's folder)."""
    try:
        import resource
    except ImportError:  # not on Windows: the parent's wall-clock limit still holds
        return
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    _, hard_cpu = resource.getrlimit(resource.RLIMIT_CPU)
    if hard_cpu != resource.RLIM_INFINITY:
        cpu_seconds = min(cpu_seconds, max(1, hard_cpu - 1))
        hard_cpu = min(hard_cpu, cpu_seconds + 1)
    else:
        hard_cpu = cpu_seconds + 1
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, hard_cpu))
    used = _address_space()
    if used:
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        wanted = used + memory
        soft = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _address_space() -> int:
    """The bytes of address space this process uses (Linux), else 0 (unknown)."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            pages = int(statm.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 0
    return pages * os.sysconf("SC_PAGE_SIZE")
