"""The decoded-data cache at scale: edits cost only what changed, the cache is memory-mapped, one entry per data
set, loads stop on request leaving nothing, several processes share it, and any file name works."""
from __future__ import annotations

import json
import logging
import os
import struct
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch

from imagefiles import colour_image, count_image_opens, make_nested_folder, write_images
from trainer.config import DataConfig
from trainer.data.datasets import DataError, load_dataset
from trainer.errors import Cancelled


def _config(folder: Path, cache: Path, size: int = 32, test_fraction: float = 0.25) -> DataConfig:
    return DataConfig(source=os.fsdecode(folder), image_size=size, test_fraction=test_fraction,
                      cache_dir=str(cache))


def _entries(cache: Path) -> list[Path]:
    return [p for p in cache.iterdir() if p.is_dir() and not p.name.startswith(".")] if cache.is_dir() else []


def _fresh(folder: Path, tmp_path: Path, name: str):
    """The folder decoded from scratch into a cache of its own: what any cached load must equal."""
    return load_dataset(_config(folder, tmp_path / name))


def _same(a, b) -> bool:
    return torch.equal(a.train, b.train) and torch.equal(a.test, b.test)


# ---------------------------------------------------------------- an edit decodes only what changed

def test_each_kind_of_edit_decodes_only_the_changed_files(tmp_path: Path, monkeypatch) -> None:
    folder = make_nested_folder(tmp_path / "faces", count=24)
    cache = tmp_path / "cache"
    load_dataset(_config(folder, cache))
    decoded = count_image_opens(monkeypatch)
    fresh_caches = iter(range(100))

    def decodes_of_a_load() -> int:
        decoded[0] = 0
        data = load_dataset(_config(folder, cache))
        count = decoded[0]
        assert _same(data, _fresh(folder, tmp_path, f"fresh{next(fresh_caches)}")), "the cache is not current"
        return count

    colour_image(9000).save(folder / "a" / "added.png")
    assert decodes_of_a_load() == 1                                  # a new file: that one
    (folder / "b" / "c" / "img_0500.png").unlink()
    assert decodes_of_a_load() == 0                                  # a removed file: nothing to decode
    target = folder / "a" / "img_0003.png"
    info = target.stat()
    os.utime(target, ns=(info.st_atime_ns, info.st_mtime_ns + 7_000_000_000))
    assert decodes_of_a_load() == 0                                  # touched: same content
    target.rename(folder / "b" / "renamed.png")
    assert decodes_of_a_load() == 0                                  # renamed: found by its content
    colour_image(9001).save(folder / "a" / "img_0001.png")
    assert decodes_of_a_load() == 1                                  # rewritten: that one
    assert len(_entries(cache)) == 1


def test_the_split_stays_deterministic_by_path_and_follows_test_fraction(tmp_path: Path) -> None:
    folder = make_nested_folder(tmp_path / "faces", count=40)
    cache = tmp_path / "cache"
    quarter = load_dataset(_config(folder, cache, test_fraction=0.25))
    half = load_dataset(_config(folder, cache, test_fraction=0.5))      # the same entry, rows reordered
    assert _same(half, load_dataset(_config(folder, tmp_path / "other", test_fraction=0.5)))
    assert len(half.test) > len(quarter.test)
    assert len(_entries(cache)) == 1
    again = load_dataset(_config(folder, cache, test_fraction=0.25))
    assert _same(again, quarter)


# ---------------------------------------------------------------- memory-mapped, one entry per data set

def _memory_mapped(tensor: torch.Tensor, file: Path) -> bool:
    """Whether the tensor's memory is a mapping of `file` (Linux: /proc/self/maps; elsewhere not checked)."""
    maps = Path("/proc/self/maps")
    if not maps.exists():
        return True
    address = tensor.data_ptr()
    for line in maps.read_text().splitlines():
        fields = line.split(maxsplit=5)
        if len(fields) == 6 and fields[5] == str(file):
            start, end = (int(x, 16) for x in fields[0].split("-"))
            if start <= address < end:
                return True
    return False


def test_the_cache_is_memory_mapped_not_read_whole(tmp_path: Path, monkeypatch) -> None:
    folder = make_nested_folder(tmp_path / "faces", count=12)
    first = load_dataset(_config(folder, tmp_path / "cache"))
    whole_reads = []
    real_fromfile = np.fromfile
    monkeypatch.setattr(np, "fromfile", lambda *a, **k: whole_reads.append(a) or real_fromfile(*a, **k))
    cached = load_dataset(_config(folder, tmp_path / "cache"))
    assert not whole_reads, "np.load read the images file whole"
    images = next(_entries(tmp_path / "cache")[0].glob("images-*.npy"))
    assert _memory_mapped(cached.train, images) and _memory_mapped(cached.test, images)
    assert _memory_mapped(first.train, images)          # the first load maps what it wrote; no copy is kept
    before = int(cached.train[0, 0, 0, 0])
    cached.train[0, 0, 0, 0] = 255 - before             # copy-on-write: the cache file is unchanged
    assert int(load_dataset(_config(folder, tmp_path / "cache")).train[0, 0, 0, 0]) == before


def test_superseded_entries_are_removed(tmp_path: Path) -> None:
    folder = make_nested_folder(tmp_path / "faces", count=16)
    cache = tmp_path / "cache"
    old_format = cache / "folder-0123456789abcdef01234567"         # what earlier versions left: never read again
    old_format.mkdir(parents=True)
    np.save(old_format / "train.npy", np.zeros((5, 3, 32, 32), np.uint8))
    (old_format / "meta.json").write_text(json.dumps({"source": str(folder), "skipped": []}))
    theirs = cache / "notes"                     # --cache-dir may name a folder that holds other things too
    theirs.mkdir()
    (theirs / "meta.json").write_text("{}")
    load_dataset(_config(folder, cache))
    for i in range(3):
        colour_image(7000 + i).save(folder / "a" / f"new{i}.png")
        load_dataset(_config(folder, cache))
    entries = [p for p in _entries(cache) if p != theirs]
    assert len(entries) == 1 and not old_format.exists() and (theirs / "meta.json").exists()
    images = [p for p in entries[0].iterdir() if p.name.startswith("images")]
    assert len(images) == 1, "older generations of the images file are removed"
    assert images[0].stat().st_size < 1.1 * 19 * 3 * 32 * 32 + 4096


# ---------------------------------------------------------------- a load stops on request, creating nothing

def test_a_load_stops_on_request_within_a_second_and_leaves_nothing(tmp_path: Path, monkeypatch) -> None:
    from trainer.data import decoding
    monkeypatch.setattr(decoding, "IN_PROCESS_MAX_FILES", 0)        # decode in worker processes, as a big folder does
    monkeypatch.setattr(decoding, "CHUNK_FILES", 4)
    folder = tmp_path / "faces"
    write_images(folder, 400)
    cache = tmp_path / "cache"
    asked = []

    def progress(done: int, total: int, what: str) -> None:
        if what == "decoding images" and done > 0 and not asked:
            asked.append(time.monotonic())

    pools = []
    real_pool = decoding._WorkerPool

    def recorded_pool(*args):
        pools.append(real_pool(*args))
        return pools[-1]

    monkeypatch.setattr(decoding, "_WorkerPool", recorded_pool)
    with pytest.raises(Cancelled):
        load_dataset(_config(folder, cache), should_stop=lambda: bool(asked), progress=progress)
    assert time.monotonic() - asked[0] < 1.0
    assert pools and all(w.poll() is not None for w in pools[0].workers), "the decoding workers were stopped"
    assert _entries(cache) == []
    leftovers = [p for p in cache.rglob("*") if p.is_file() and ".locks" not in p.parts]
    assert leftovers == []


def test_a_stop_while_listing_or_waiting_for_another_process_cancels(tmp_path: Path) -> None:
    from trainer.data.dataset_cache import CacheEntry
    from trainer.data.folder_data import folder_key
    folder = make_nested_folder(tmp_path / "faces", count=6)
    config = _config(folder, tmp_path / "cache")
    entry = CacheEntry(tmp_path / "cache", folder_key(folder, 32))
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with entry.locked():
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(5)
    started = time.monotonic()
    try:
        with pytest.raises(Cancelled):
            load_dataset(config, should_stop=lambda: time.monotonic() - started > 0.3)
        assert time.monotonic() - started < 1.3
    finally:
        release.set()
        holder.join()
    assert len(load_dataset(config).train) > 0


# ---------------------------------------------------------------- several processes share one entry

def test_concurrent_loads_of_one_folder_decode_once_and_agree(tmp_path: Path, monkeypatch) -> None:
    folder = make_nested_folder(tmp_path / "faces", count=20)
    cache = tmp_path / "cache"
    decoded = count_image_opens(monkeypatch)
    results, errors = [], []

    def load() -> None:
        try:
            results.append(load_dataset(_config(folder, cache)))
        except Exception as error:      # reported below
            errors.append(error)

    threads = [threading.Thread(target=load) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors and len(results) == 3
    assert decoded[0] == 20, "the second and third load waited and found the cache current"
    assert all(_same(r, results[0]) for r in results[1:])
    assert len(_entries(cache)) == 1


def test_a_second_process_reads_while_the_first_updates(tmp_path: Path) -> None:
    folder = make_nested_folder(tmp_path / "faces", count=30)
    cache = tmp_path / "cache"
    load_dataset(_config(folder, cache))
    script = ("import sys; from trainer.config import DataConfig; from trainer.data.datasets import load_dataset\n"
              "for i in range(6):\n"
              "    d = load_dataset(DataConfig(source=sys.argv[1], image_size=32, test_fraction=0.25, "
              "cache_dir=sys.argv[2]))\n"
              "    assert len(d.train) + len(d.test) >= 30, len(d.train)\n")
    reader = subprocess.Popen([sys.executable, "-c", script, str(folder), str(cache)], cwd=Path(__file__).parents[1])
    edits = 0
    while reader.poll() is None and edits < 200:          # edit and reload for as long as the reader reads
        colour_image(8000 + edits).save(folder / "a" / f"more{edits}.png")
        load_dataset(_config(folder, cache))
        edits += 1
    assert reader.wait(120) == 0
    assert _same(load_dataset(_config(folder, cache)), _fresh(folder, tmp_path, "fresh"))
    entry, = _entries(cache)                # one entry, nothing half-written or superseded left in it
    assert sorted(p.name.split("-")[0] for p in entry.iterdir()) == ["images", "meta.json", "table"]


# ---------------------------------------------------------------- damage is found and repaired

@pytest.mark.parametrize("damage", ["truncated_images", "garbage_meta", "missing_table", "wrong_header",
                                    "table_of_another_folder"])
def test_a_damaged_entry_is_rebuilt_with_a_warning(tmp_path: Path, caplog, damage: str) -> None:
    folder = make_nested_folder(tmp_path / "faces", count=10)
    cache = tmp_path / "cache"
    first = load_dataset(_config(folder, cache))
    first.train, first.test = first.train.clone(), first.test.clone()     # not the mapping of the file damaged below
    entry = _entries(cache)[0]
    images = next(entry.glob("images-*.npy"))
    table = next(entry.glob("table-*.npz"))
    if damage == "truncated_images":
        with open(images, "r+b") as handle:
            handle.truncate(images.stat().st_size - 100)
    elif damage == "garbage_meta":
        (entry / "meta.json").write_bytes(b"\xff\x00 not json")
    elif damage == "missing_table":
        table.unlink()
    elif damage == "wrong_header":
        data = bytearray(images.read_bytes())
        data[10:128] = b"{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }".ljust(117) + b"\n"
        images.write_bytes(bytes(data))
    else:
        other = make_nested_folder(tmp_path / "other", count=3)
        load_dataset(_config(other, tmp_path / "cache2"))
        table.write_bytes(next(_entries(tmp_path / "cache2")[0].glob("table-*.npz")).read_bytes())
    with caplog.at_level(logging.WARNING):
        again = load_dataset(_config(folder, cache))
    assert "damaged data cache" in caplog.text
    assert _same(again, first)
    assert len(_entries(cache)) == 1


# ---------------------------------------------------------------- names and odd files

def test_names_that_are_not_utf8_are_read_and_shown_safely(tmp_path: Path, caplog) -> None:
    root = os.fsencode(tmp_path) + b"/faces\xff"
    os.makedirs(root + b"/sub\xfe")
    for i, name in enumerate([b"/a\xff.png", b"/sub\xfe/b\xe9.png", b"/plain.png", b"/caf\xc3\xa9.png"]):
        colour_image(i).save(os.fsdecode(root + name))
    with open(root + b"/broken\xff.png", "wb") as handle:
        handle.write(b"not an image")
    folder = Path(os.fsdecode(root))
    with caplog.at_level(logging.WARNING):
        data = load_dataset(_config(folder, tmp_path / "cache", test_fraction=0.3))
    assert len(data.train) + len(data.test) == 4
    text = caplog.text
    assert "broken\\xff.png" in text and "faces\\xff" in text
    text.encode("ascii", "backslashreplace").decode("ascii")
    for message in data.skipped:
        message.encode("utf-8")                       # no lone surrogates: prints anywhere, fits a Qt string
    # the split is the path hash of the name's bytes, as for any name
    from trainer.data.listing import folder_splits
    train, test = folder_splits(folder, 0.3)
    assert sorted(os.fsencode(p)[len(root) + 1:] for p in test) == sorted(
        rel for rel in (b"a\xff.png", b"sub\xfe/b\xe9.png", b"plain.png", b"caf\xc3\xa9.png")
        if zlib.crc32(rel) % 10_000 < 3000)


def test_non_ascii_names_work_under_the_c_locale(tmp_path: Path) -> None:
    folder = tmp_path / "visages é"
    write_images(folder / "ünïcode", 4)
    write_images(folder / "plain", 2, start=50)
    env = {**os.environ, "LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"}
    script = ("import sys; from trainer.config import DataConfig; from trainer.data.datasets import load_dataset;"
              "d = load_dataset(DataConfig(source=sys.argv[1], image_size=32, cache_dir=sys.argv[2]));"
              "print(sys.getfilesystemencoding(), len(d.train) + len(d.test))")
    done = subprocess.run([sys.executable, "-c", script, os.fsencode(folder), str(tmp_path / "cache")], env=env,
                          capture_output=True, cwd=Path(__file__).parents[1], timeout=120)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    assert done.stdout.decode().split() == ["ascii", "6"]


def test_an_unreadable_folder_is_refused_naming_the_folder_given(tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path / "locked"
    write_images(folder / "train", 3)
    write_images(folder / "test", 2, start=10)
    real_scandir = os.scandir

    def denied(path=".", *args):
        if os.fsencode(path).rstrip(b"/") in (os.fsencode(folder), os.fsencode(folder / "train")):
            raise PermissionError(13, "Permission denied", os.fsdecode(path))
        return real_scandir(path, *args)

    monkeypatch.setattr(os, "scandir", denied)
    with pytest.raises(DataError) as info:
        load_dataset(_config(folder, tmp_path / "cache"))
    message = str(info.value)
    assert str(folder) in message and "permission denied" in message
    assert "train" not in message.replace(str(folder), "")


def _png_header_only(path: Path, width: int, height: int) -> None:
    """A tiny PNG claiming a huge size (a decompression bomb's header)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    end = struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND"))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk + end)


def test_odd_files_are_skipped_with_one_warning_naming_them(tmp_path: Path, monkeypatch, caplog) -> None:
    folder = tmp_path / "faces"
    write_images(folder / "good", 6)
    (folder / "empty.png").write_bytes(b"")
    (folder / "text.png").write_text("hello, not an image")
    _png_header_only(folder / "bomb.png", 60_000, 60_000)
    _png_header_only(folder / "big.png", 12_000, 9_000)         # over the pixel limit, under PIL's error limit
    (folder / "good" / "loop").symlink_to("..")                  # a directory link loop
    (folder / "dangling.png").symlink_to(folder / "nowhere.png")
    vanishing = folder / "good" / "vanishing.png"
    colour_image(99).save(vanishing)
    from trainer.data import listing

    class Vanishing(listing._Walk):
        def _file(self, entry, rel):
            if entry.name == b"vanishing.png":
                vanishing.unlink(missing_ok=True)                # deleted between the listing and the stat
            return super()._file(entry, rel)

    monkeypatch.setattr(listing, "_Walk", Vanishing)
    with caplog.at_level(logging.WARNING):
        data = load_dataset(_config(folder, tmp_path / "cache"))
    assert len(data.train) + len(data.test) == 6
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, warnings
    for name in ("empty.png", "text.png", "bomb.png", "big.png", "dangling.png", "vanishing.png", "loop"):
        assert any(name in skipped for skipped in data.skipped), name
    assert "skipped 7 " in warnings[0]


# ---------------------------------------------------------------- a cache that cannot be written costs only speed

def test_an_unwritable_cache_folder_still_loads_through_a_temporary_folder(tmp_path: Path, caplog) -> None:
    folder = make_nested_folder(tmp_path / "faces", count=8)
    blocker = tmp_path / "a file"
    blocker.write_text("the cache folder would have to be below this file")
    with caplog.at_level(logging.WARNING):
        data = load_dataset(_config(folder, blocker / "cache"))
    assert "could not write data cache" in caplog.text
    assert _same(data, _fresh(folder, tmp_path, "fresh"))


def test_with_no_writable_folder_at_all_the_images_are_decoded_in_memory(tmp_path: Path, monkeypatch,
                                                                        caplog) -> None:
    from trainer.data import dataset_cache, datasets

    def no_space(*args, **kwargs):
        raise OSError(28, "No space left on device")

    folder = make_nested_folder(tmp_path / "faces", count=8)
    expected = _fresh(folder, tmp_path, "fresh")
    monkeypatch.setattr(dataset_cache, "create_images_file", no_space)
    monkeypatch.setattr("trainer.data.folder_data.create_images_file", no_space)
    monkeypatch.setattr(datasets, "private_cache_root", lambda: tmp_path / "private")
    with caplog.at_level(logging.WARNING):
        data = load_dataset(_config(folder, tmp_path / "cache"))
    assert "decoding in memory" in caplog.text
    assert _same(data, expected)
    assert _entries(tmp_path / "cache") == [] and not (tmp_path / "private").exists()
