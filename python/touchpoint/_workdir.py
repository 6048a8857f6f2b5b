"""The folder a bucketed cut works in (``from_events(..., workdir=W)``): Touchpoint writes only inside a
folder it created or found empty, and marks as its own; it deletes only the files it wrote there.

The rules (``docs/spark.md``, "What the library writes in workdir"):

- ``W`` must be a non-empty path (``str`` or ``os.PathLike``) that is not the filesystem's root; a
  file, an unwritable folder or any other type is a :class:`ParameterError`.
- A missing ``W`` is created (with its parents); an empty one is taken. Either way the marker file
  ``W/.touchpoint-workdir`` is written first. A folder that holds anything and has no marker is
  refused: Touchpoint never writes into, nor deletes from, a folder it did not make its own.
- In a marked folder, Touchpoint writes and deletes only its own entries: ``touches/`` and
  ``conversions/`` (the buckets of pass 1, removed when the cut ends), ``statistics/<b>.parquet``,
  ``journeys/<b>.tp`` and, during a fit of the additive-hazard model, a private ``hazard-*`` folder per
  fit (removed when the fit ends). Before an entry is replaced, every file in it is checked to be one
  Touchpoint names that way, a regular file and not a link; anything else (a file of the user's, a
  symbolic link) stops the call with a :class:`ParameterError` naming it, before anything is deleted.
- Anything else in ``W`` (files the user put beside Touchpoint's) is neither read nor touched.
"""

from __future__ import annotations

import os
import re
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .exceptions import ParameterError

__all__ = ["MARKER", "Workdir"]

MARKER = ".touchpoint-workdir"
_MARK_TEXT = "This folder is a Touchpoint workdir: Touchpoint writes and deletes only its own entries here.\n"

# What Touchpoint writes below each of its entries: (relative path parts) -> one pattern per level.
_BUCKET_DIR = re.compile(r"_tp_bucket=\d+")
_OWN: dict[str, list[re.Pattern[str]]] = {
    # polars' sink names the files of each partition itself.
    "touches": [_BUCKET_DIR, re.compile(r"[^/]+\.parquet")],
    "conversions": [_BUCKET_DIR, re.compile(r"[^/]+\.parquet")],
    "statistics": [re.compile(r"\d{5}\.parquet")],
    "journeys": [re.compile(r"\d{5}\.tp")],
}
_PART = re.compile(r"\d{5}\.part")


def _describe(value: Any) -> str:
    return repr(value) if isinstance(value, str) else f"{value!r} ({type(value).__name__})"


class Workdir:
    """A folder Touchpoint owns (see the module's rules). :meth:`claim` checks and marks it."""

    __slots__ = ("root",)

    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def claim(cls, where: Any, inputs: tuple[Any, ...] = ()) -> Workdir:
        """Checks ``where`` against the rules and marks it as Touchpoint's; ``inputs`` are the paths the
        cut reads, which may not lie inside it."""
        if isinstance(where, bool) or not isinstance(where, (str, os.PathLike)):
            raise ParameterError(
                f"invalid option `workdir` = {_describe(where)}: expected a folder's path (str or pathlib.Path)"
            )
        text = os.fspath(where)
        if not isinstance(text, str) or not text.strip():
            raise ParameterError(
                f"invalid option `workdir` = {text!r}: an empty path would mean the current folder; name a folder "
                "for Touchpoint's files"
            )
        path = Path(text).expanduser()
        try:
            resolved = path.resolve()
        except (OSError, RuntimeError) as e:
            raise ParameterError(f"invalid option `workdir` = {text!r}: {e}") from None
        if resolved == Path(resolved.anchor):
            raise ParameterError(
                f"invalid option `workdir` = {text!r}: the filesystem's root; name a folder of its own for "
                "Touchpoint's files"
            )
        for source in inputs:
            if isinstance(source, (str, os.PathLike)):
                src = Path(os.fspath(source)).expanduser().resolve()
                if src == resolved or resolved in src.parents:
                    raise ParameterError(
                        f"invalid option `workdir` = {text!r}: the input `{source}` lies inside it; name a folder "
                        "apart from the data it reads"
                    )
        if path.exists() and not path.is_dir():
            raise ParameterError(f"invalid option `workdir` = {text!r}: it is a file, not a folder")
        marker = path / MARKER
        try:
            if not path.exists():
                path.mkdir(parents=True)
                marker.write_text(_MARK_TEXT)
            elif marker.is_symlink() or (marker.exists() and not marker.is_file()):
                raise ParameterError(
                    f"invalid option `workdir` = {text!r}: its `{MARKER}` is not a file Touchpoint wrote"
                )
            elif not marker.exists():
                held = sorted(p.name for p in path.iterdir())
                if held:
                    shown = ", ".join(f"`{n}`" for n in held[:5]) + (
                        f" and {len(held) - 5} more" if len(held) > 5 else ""
                    )
                    raise ParameterError(
                        f"invalid option `workdir` = {text!r}: the folder holds {shown}, which Touchpoint did not "
                        "create; it writes only in a new or empty folder (which it marks as its own), so pass one"
                    )
                marker.write_text(_MARK_TEXT)
            if not os.access(path, os.W_OK | os.X_OK):
                raise PermissionError(f"Permission denied: '{path}'")
        except OSError as e:
            raise ParameterError(f"invalid option `workdir` = {text!r}: cannot write there ({e})") from None
        return cls(path)

    def clear(self, *names: str) -> None:
        """Removes ``root/<name>`` for each name, with what Touchpoint wrote there before. Every entry
        is checked first: when any holds anything else, nothing is deleted and the error names it."""
        found = [self._own_entries(name, self.root / name) for name in names]
        for files, dirs in found:
            for f in files:
                f.unlink()
            for d in sorted(dirs, key=lambda p: len(p.parts), reverse=True):
                d.rmdir()

    def _own_entries(self, name: str, target: Path) -> tuple[list[Path], list[Path]]:
        """The files and folders below ``target`` (itself included), all checked to be Touchpoint's."""
        levels = _OWN[name]
        files: list[Path] = []
        dirs: list[Path] = []

        def foreign(p: Path, why: str) -> ParameterError:
            return ParameterError(
                f"the workdir entry `{p}` {why}: Touchpoint deletes only what it wrote, so it stopped before "
                f"deleting anything in `{target}`; move that entry out, or pass another workdir"
            )

        def walk(d: Path, depth: int) -> None:
            mode = os.lstat(d).st_mode
            if stat.S_ISLNK(mode):
                raise foreign(d, "is a symbolic link")
            if not stat.S_ISDIR(mode):
                raise foreign(d, "is not a folder")
            dirs.append(d)
            for child in d.iterdir():
                if depth >= len(levels) or not levels[depth].fullmatch(child.name):
                    raise foreign(child, "is not a file Touchpoint writes there")
                if depth == len(levels) - 1:
                    m = os.lstat(child).st_mode
                    if not stat.S_ISREG(m):
                        raise foreign(child, "is a symbolic link" if stat.S_ISLNK(m) else "is not a regular file")
                    files.append(child)
                else:
                    walk(child, depth + 1)

        if os.path.lexists(target):
            walk(target, 0)
        return files, dirs

    def hazard_parts(self) -> HazardParts:
        """A private folder for one fit's parts (``hazard-*``), so that fits running at once never
        share one."""
        return HazardParts(Path(tempfile.mkdtemp(prefix="hazard-", dir=self.root)))


class HazardParts:
    """The parts of one fit of the additive-hazard model, in a folder of its own."""

    __slots__ = ("folder", "written")

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.written: list[Path] = []

    def write(self, bucket: int, part: bytes) -> None:
        path = self.folder / f"{bucket:05}.part"
        path.write_bytes(part)
        self.written.append(path)

    def read(self) -> Iterator[bytes]:
        """Each part's bytes, one at a time (a pass holds one part in memory, not all)."""
        return (p.read_bytes() for p in self.written)

    def remove(self) -> None:
        """Deletes the parts this fit wrote, then its folder if nothing else is in it."""
        for p in self.written:
            if _PART.fullmatch(p.name) and p.is_file() and not p.is_symlink():
                p.unlink()
        self.written.clear()
        try:
            self.folder.rmdir()
        except OSError:
            pass
