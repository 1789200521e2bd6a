"""Decoding many image files straight into the rows of a cache file, spread over the CPU cores.

Each worker process (a plain `python -c` subprocess fed over a pipe) reads a chunk of files, hashes their bytes
(so a renamed or touched file is recognised later without decoding it again), decodes them and writes the rows
itself: only small results travel back, and the main process never holds the decoded images. Small jobs run in this process (starting workers costs more).
A stop request ends the workers at once (Cancelled); the caller removes the half-written file.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import itertools
import os
import pickle
import queue
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from typing import Callable

import numpy as np

from trainer.data.images import ImageDecodeError, decode_error_reason, load_image
from trainer.errors import Cancelled

DIGEST_BYTES = 16
CHUNK_FILES = 256                 # files per task: a fraction of a second, so progress and stops are prompt
IN_PROCESS_MAX_FILES = 512        # fewer files than this are decoded here, without worker processes
WHOLE_READ_MAX_BYTES = 64 << 20   # larger files are hashed in blocks and decoded from disk
POLL_S = 0.1

ProgressCallback = Callable[[int, int, str], None]      # (done, total, what)


@dataclass
class DecodeJob:
    """Files (paths below `root`) to decode at `size` px into the file `out`, file k at row rows[k] (rows after a
    header of `offset` bytes, each 3 x size x size uint8). Without `out`, decode_files() fills an array instead."""
    root: bytes
    rels: list[bytes]
    rows: list[int]
    size: int
    out: str | None = None
    offset: int = 0


@dataclass
class DecodeResult:
    failures: dict[int, str]          # file index -> why it could not be used
    digests: np.ndarray               # uint8 (n, DIGEST_BYTES); zeros where the file could not be read


def file_digest(path: bytes | str) -> bytes:
    """The content hash used to recognise a file under another name or time stamp."""
    digest = hashlib.blake2b(digest_size=DIGEST_BYTES)
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.digest()


def decode_files(job: DecodeJob, should_stop: Callable[[], bool] = lambda: False,
                 progress: ProgressCallback | None = None, workers: int | None = None,
                 into: np.ndarray | None = None) -> DecodeResult:
    """Decode every file of the job into its row of job.out, or of `into` (in this process: the fallback when no
    file can be written); Cancelled (with the workers ended) when should_stop() is true."""
    from trainer.training.cores import available_cores

    n = len(job.rels)
    result = DecodeResult(failures={}, digests=np.zeros((n, DIGEST_BYTES), np.uint8))
    chunks = [(start, min(n, start + CHUNK_FILES)) for start in range(0, n, CHUNK_FILES)]
    workers = workers or min(available_cores(), len(chunks))
    report = progress or (lambda done, total, what: None)
    report(0, n, "decoding images")
    if n < IN_PROCESS_MAX_FILES or workers < 2 or into is not None:
        for start, end in chunks:
            if should_stop():
                raise Cancelled("decoding images")
            _merge(result, _decode_chunk(job, start, end, should_stop, into))
            report(end, n, "decoding images")
        return result
    _decode_in_workers(job, chunks, workers, result, should_stop, report)
    return result


def _decode_in_workers(job: DecodeJob, chunks: list[tuple[int, int]], workers: int, result: DecodeResult,
                       should_stop: Callable[[], bool], report: ProgressCallback) -> None:
    n = len(job.rels)
    pool = _WorkerPool(workers, job)
    try:
        waiting = iter(chunks)
        for worker in pool.workers:
            for chunk in itertools.islice(waiting, 2):      # two each: a worker never waits for its next chunk
                pool.send(worker, chunk)
        done = 0
        while done < n:
            if should_stop():
                raise Cancelled("decoding images")
            try:
                worker, chunk_result = pool.results.get(timeout=POLL_S)
            except queue.Empty:
                continue
            if isinstance(chunk_result, BaseException):
                raise chunk_result
            _merge(result, chunk_result)
            done += len(chunk_result[1])
            report(done, n, "decoding images")
            for chunk in itertools.islice(waiting, 1):
                pool.send(worker, chunk)
    finally:
        pool.close()                  # at once: a stop must not wait for the chunks in flight


class DecodeWorkerError(RuntimeError):
    """A decoding worker process ended without answering (killed, out of memory)."""


class _WorkerPool:
    """Worker processes (`python -c ...serve()`) that take chunks over a pipe and answer with small results.

    Plain subprocesses rather than multiprocessing: its "spawn" start re-imports the caller's main script, which
    loops forever in a script without an `if __name__ == "__main__":` guard; and forking a process that runs Qt or
    torch threads is unsafe. A reader thread per worker makes waiting for results portable (no select on pipes)."""

    def __init__(self, count: int, job: DecodeJob):
        paths = [p or os.getcwd() for p in sys.path]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths), "OMP_NUM_THREADS": "1"}
        command = [sys.executable, "-c", "from trainer.data.decoding import serve; serve()"]
        self.results: queue.Queue = queue.Queue()
        self.workers = [subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
                        for _ in range(count)]
        for worker in self.workers:
            threading.Thread(target=self._read, args=(worker,), daemon=True, name="vae-decode-results").start()
            self.send(worker, job)

    def send(self, worker: subprocess.Popen, message) -> None:
        try:
            pickle.dump(message, worker.stdin)
            worker.stdin.flush()
        except OSError:
            pass                      # it ended: its reader reports that

    def _read(self, worker: subprocess.Popen) -> None:
        try:
            while True:
                self.results.put((worker, pickle.load(worker.stdout)))
        except Exception:             # end of the pipe, or a torn message from a killed worker
            self.results.put((worker, DecodeWorkerError(f"a decoding worker ended (exit status {worker.poll()})")))

    def close(self) -> None:
        for worker in self.workers:
            worker.kill()
        for worker in self.workers:
            worker.wait()
            for pipe in (worker.stdin, worker.stdout):
                with contextlib.suppress(OSError):
                    pipe.close()


def serve() -> None:
    """A worker process: read the job, then (start, end) chunks from stdin; answer each with its result."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)       # Ctrl-C reaches the whole terminal group: the parent decides
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # a stray print must not break the protocol
    requests = sys.stdin.buffer
    job = pickle.load(requests)
    while True:
        try:
            start, end = pickle.load(requests)
        except EOFError:
            return
        try:
            answer = _decode_chunk(job, start, end)
        except Exception as error:          # e.g. the cache file cannot be written: the parent raises it
            answer = error
        pickle.dump(answer, answers)
        answers.flush()


def _merge(result: DecodeResult, chunk_result: tuple[int, np.ndarray, dict[int, str]]) -> None:
    start, digests, failures = chunk_result
    result.digests[start:start + len(digests)] = digests
    result.failures.update(failures)


def _decode_chunk(job: DecodeJob, start: int, end: int, should_stop: Callable[[], bool] = lambda: False,
                  into: np.ndarray | None = None) -> tuple[int, np.ndarray, dict[int, str]]:
    """Decode files start..end of the job and write their rows; returns (start, digests, failures)."""
    digests = np.zeros((end - start, DIGEST_BYTES), np.uint8)
    failures: dict[int, str] = {}
    row_bytes = 3 * job.size * job.size
    with (open(job.out, "r+b") if into is None else contextlib.nullcontext()) as out:
        for k in range(start, end):
            if k % 16 == 0 and should_stop():
                raise Cancelled("decoding images")
            path = os.path.join(job.root, job.rels[k])
            try:
                digest, pixels = _decode_file(path, job.size)
            except ImageDecodeError as error:
                failures[k] = error.reason
                continue
            digests[k - start] = np.frombuffer(digest, np.uint8)
            if into is not None:
                into[job.rows[k]] = pixels.transpose(2, 0, 1)
            else:
                out.seek(job.offset + job.rows[k] * row_bytes)
                out.write(np.ascontiguousarray(pixels.transpose(2, 0, 1)).data)
    return start, digests, failures


def _decode_file(path: bytes, size: int) -> tuple[bytes, np.ndarray]:
    """(content hash, uint8 (size, size, 3)); ImageDecodeError when the file cannot be read or decoded."""
    try:
        if os.path.getsize(path) > WHOLE_READ_MAX_BYTES:
            return file_digest(path), load_image(path, size)
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        raise ImageDecodeError(path, decode_error_reason(error)) from None
    digest = hashlib.blake2b(data, digest_size=DIGEST_BYTES).digest()
    return digest, load_image(io.BytesIO(data), size, name=path)
