"""The workdir of a bucketed cut: Touchpoint writes only in a folder it created or found empty, and
deletes only what it wrote there (issue 25, items 1-3 and 18). Each test holds files of the user's
beside and inside the folder, and checks them byte for byte afterwards."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import touchpoint as tp

KW: dict[str, Any] = {"person": "user_id", "buckets": 2, "progress": False}


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    sim = tp.simulate("social_care", people=1500, seed=3, progress=False)
    root = tmp_path_factory.mktemp("lake")
    (root / "touches").mkdir()
    (root / "conversions").mkdir()
    sim.touches.write_parquet(root / "touches" / "part-0.parquet")
    sim.conversions.write_parquet(root / "conversions" / "part-0.parquet")
    return root / "touches", root / "conversions"


def snapshot(root: Path) -> dict[str, str]:
    """Every file below ``root`` (links as their target's name) with a hash of its bytes."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            p = Path(dirpath) / name
            rel = str(p.relative_to(root))
            out[rel] = "link:" + os.readlink(p) if p.is_symlink() else hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def test_the_root_of_a_data_lake_is_refused_before_anything_is_read_or_deleted(tmp_path: Path) -> None:
    # The user's lake: the touch log in lake/touches, and files of their own where the library used to
    # write (statistics/, journeys/).
    sim = tp.simulate("social_care", people=500, seed=1, progress=False)
    lake = tmp_path / "lake"
    for d in ("touches", "conversions", "statistics", "journeys", "hazard"):
        (lake / d).mkdir(parents=True)
    sim.touches.write_parquet(lake / "touches" / "t.parquet")
    sim.conversions.write_parquet(lake / "conversions" / "c.parquet")
    (lake / "statistics" / "quarterly.csv").write_text("q,sales\n1,10\n")
    (lake / "journeys" / "00000.tp").write_text("not ours")
    before = snapshot(lake)
    # The log read from the lake, the lake as workdir: refused (the touch log was deleted before).
    with pytest.raises(tp.ParameterError, match=r"workdir.*the input .*lake/touches` lies inside it"):
        tp.Journeys.from_events(lake / "touches", lake / "conversions", workdir=lake, **KW)
    assert snapshot(lake) == before
    # A log read from elsewhere, the lake as workdir: refused, it holds what Touchpoint did not create.
    other = tmp_path / "other"
    other.mkdir()
    sim.touches.write_parquet(other / "t.parquet")
    sim.conversions.write_parquet(other / "c.parquet")
    with pytest.raises(tp.ParameterError, match=r"workdir.*holds `conversions`, `hazard`, .*did not create"):
        tp.Journeys.from_events(other / "t.parquet", other / "c.parquet", workdir=lake, **KW)
    assert snapshot(lake) == before
    # A folder apart from the data works, and leaves the lake as it was.
    j = tp.Journeys.from_events(lake / "touches", lake / "conversions", workdir=tmp_path / "work", **KW)
    assert j.summary["conversions"].sum() > 0
    assert snapshot(lake) == before


def test_an_empty_root_or_odd_workdir_is_a_parameter_error(lake: tuple[Path, Path], tmp_path: Path) -> None:
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        (tmp_path / "journeys").mkdir()
        (tmp_path / "journeys" / "mine.txt").write_text("the user's")
        for bad, why in (
            ("", "empty path"),
            ("   ", "empty path"),
            ("/", "filesystem's root"),
            (5, "expected a folder"),
        ):
            with pytest.raises(tp.ParameterError, match=why):
                tp.Journeys.from_events(*lake, workdir=bad, **KW)  # type: ignore[arg-type]
        assert (tmp_path / "journeys" / "mine.txt").read_text() == "the user's"
        assert not Path("/journeys").exists() and not Path("/statistics").exists()
    finally:
        os.chdir(cwd)
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    with pytest.raises(tp.ParameterError, match="it is a file"):
        tp.Journeys.from_events(*lake, workdir=a_file, **KW)
    assert a_file.read_text() == "x"
    # The input may not lie inside the workdir.
    with pytest.raises(tp.ParameterError, match="lies inside it"):
        tp.Journeys.from_events(*lake, workdir=lake[0].parent, **KW)
    if os.geteuid() != 0:  # root writes anywhere
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        with pytest.raises(tp.ParameterError, match="cannot write there"):
            tp.Journeys.from_events(*lake, workdir=ro / "work", **KW)


def test_a_marked_workdir_keeps_the_users_files_beside_and_refuses_them_inside(
    lake: tuple[Path, Path], tmp_path: Path
) -> None:
    work = tmp_path / "work"
    tp.Journeys.from_events(*lake, workdir=work, **KW)
    assert (work / ".touchpoint-workdir").is_file()
    assert sorted(p.name for p in (work / "journeys").iterdir()) == ["00000.tp", "00001.tp"]
    # Beside Touchpoint's entries: untouched by a second cut, which replaces its own.
    (work / "notes.txt").write_text("mine")
    (work / "mine").mkdir()
    (work / "mine" / "data.csv").write_text("a\n1\n")
    j = tp.Journeys.from_events(*lake, workdir=work, **KW)
    assert (work / "notes.txt").read_text() == "mine" and (work / "mine" / "data.csv").read_text() == "a\n1\n"
    assert sorted(p.name for p in (work / "journeys").iterdir()) == ["00000.tp", "00001.tp"]
    assert not (work / "touches").exists() and not (work / "conversions").exists()
    # Inside one of them: the cut stops before deleting anything, and names the file.
    (work / "statistics" / "quarterly.csv").write_text("q\n1\n")
    before = snapshot(work)
    with pytest.raises(tp.ParameterError, match=r"statistics/quarterly.csv` is not a file Touchpoint writes"):
        tp.Journeys.from_events(*lake, workdir=work, **KW)
    assert snapshot(work) == before
    (work / "statistics" / "quarterly.csv").unlink()
    # A symbolic link where Touchpoint keeps its journeys: refused, and the link's target is untouched.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "00000.tp").write_text("the user's")
    for p in (work / "journeys").iterdir():
        p.unlink()
    (work / "journeys").rmdir()
    (work / "journeys").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(tp.ParameterError, match=r"journeys` is a symbolic link"):
        tp.Journeys.from_events(*lake, workdir=work, **KW)
    assert (elsewhere / "00000.tp").read_text() == "the user's"
    # The journeys cut before are refused by their checksums, not read from the user's files.
    with pytest.raises(tp.ReadError):
        tp.attribute(j, models=["additive_hazard"], progress=False)


def test_fits_at_once_on_one_workdir_each_read_their_own_parts(lake: tuple[Path, Path], tmp_path: Path) -> None:
    work = tmp_path / "work"
    j = tp.Journeys.from_events(*lake, workdir=work, population=2000, **KW)
    models: list[Any] = [tp.models.AdditiveHazard()]
    other: list[Any] = [
        tp.models.AdditiveHazard(
            initial_half_life="1d", lift_tests=[tp.LiftTest("help_center", "tickets_deflected", 0.02, 0.005)]
        )
    ]
    alone = tp.attribute(j, models=models, progress=False).table("hazard_parameters")
    alone_other = tp.attribute(j, models=other, progress=False).table("hazard_parameters")
    assert not alone.equals(alone_other)
    got: dict[int, pl.DataFrame] = {}
    errors: list[BaseException] = []

    def fit(i: int) -> None:
        try:
            got[i] = tp.attribute(j, models=models if i % 2 == 0 else other, progress=False).table("hazard_parameters")
        except BaseException as e:  # noqa: BLE001 - reported by the assertion below
            errors.append(e)

    threads = [threading.Thread(target=fit, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for i, table in got.items():
        assert table.equals(alone if i % 2 == 0 else alone_other), i
    # Each fit removed its own parts folder.
    assert not [p for p in work.iterdir() if p.name.startswith("hazard")]
