"""Shipping a package: the folder a server reads changes in one step, never partly.

``results/readout/<name>`` is a symbolic link to ``results/packages/<name>-<digest>/``, a folder written
whole (under a temporary name, then renamed) before the link moves. The link is replaced by rename(2),
which POSIX makes atomic: a reader sees the old package or the new one, never a part or nothing.
Snakemake owns neither the link nor the folders (a rule's output is a receipt,
``results/shipped/<name>.json``), so a job that starts, fails or is killed, and the recovery run that
deletes its outputs first, never touch a shipped package. The folder the link left is kept until the
next ship, for a reader that resolved the link just before it moved.
"""

from __future__ import annotations

import ctypes
import errno
import hashlib
import os
import shutil
import signal
from collections.abc import Callable
from pathlib import Path

FAULT_ENV = "AMYGDALA_READOUT_FAULT"


def fault_point(name: str) -> None:
    """Die here, as a kill would, when the environment names this point (``<rule>:<moment>``); for the
    tests that check a kill at any moment leaves a whole package."""
    if os.environ.get(FAULT_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


def package_digest(files: dict[str, bytes]) -> str:
    hasher = hashlib.sha256()
    for name in sorted(files):
        hasher.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    return hasher.hexdigest()[:16]


def ship(
    files: dict[str, bytes], link: str | Path, store: str | Path, *, job: str, check: Callable[[Path], object]
) -> Path:
    """Write ``files`` as the folder ``<store>/<link name>-<digest>``, ``check`` it, and point ``link`` at it.

    ``job`` names the fault points (``<job>:before``, ``:during``, ``:after``). Returns the folder.
    """
    link, store = Path(link), Path(store)
    fault_point(f"{job}:before")
    version = store / f"{link.name}-{package_digest(files)}"
    if not version.is_dir():
        partial = store / f".{version.name}.partial-{os.getpid()}"
        partial.mkdir(parents=True)
        for index, (name, data) in enumerate(sorted(files.items())):
            with open(partial / name, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            if index == 0:
                fault_point(f"{job}:during")
        check(partial)
        os.rename(partial, version)
    point(link, version)
    fault_point(f"{job}:after")
    _prune(store, link.name, current=version)
    return version


def point(link: Path, target: Path) -> None:
    """Make ``link`` a relative symbolic link to ``target`` in one step, whatever it was before."""
    link.parent.mkdir(parents=True, exist_ok=True)
    relative = os.path.relpath(target, link.parent)
    if link.is_symlink() and os.readlink(link) == relative:
        return
    staged = link.with_name(f".{link.name}.link-{os.getpid()}")
    if staged.is_symlink() or staged.exists():
        staged.unlink()
    staged.symlink_to(relative, target_is_directory=True)
    if link.is_dir() and not link.is_symlink():
        # a package folder from before packages were shipped as links: swap the two in one step
        # where the kernel can (Linux renameat2), else move the folder aside first
        if not _exchange(staged, link):
            os.rename(link, link.with_name(f".{link.name}.replaced-{os.getpid()}"))
            os.rename(staged, link)
        for leftover in link.parent.glob(f".{link.name}.*-*"):
            if leftover.is_dir() and not leftover.is_symlink():
                shutil.rmtree(leftover)
            elif leftover.is_symlink() or leftover.exists():
                leftover.unlink()
        return
    os.replace(staged, link)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (renameat2 with RENAME_EXCHANGE); False where the system cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    if ctypes.get_errno() in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()), str(b))


def _prune(store: Path, name: str, current: Path) -> None:
    """Remove ``name``'s package folders but the current one and the newest before it (a reader may have
    resolved the link just before it moved), and partial writes a killed ship left behind."""
    others = [f for f in store.glob(f"{name}-*") if f != current and f.name[len(name) + 1 :].isalnum()]
    for folder in sorted(others, key=lambda f: f.stat().st_mtime)[:-1]:
        shutil.rmtree(folder)
    for partial in store.glob(f".{name}-*.partial-*"):
        shutil.rmtree(partial, ignore_errors=True)


def receipt(version: Path, files: dict[str, bytes]) -> dict:
    """What a ship job records as its output: the folder shipped and its files' hashes."""
    return {
        "package": str(version),
        "files": {name: hashlib.sha256(data).hexdigest() for name, data in sorted(files.items())},
    }
