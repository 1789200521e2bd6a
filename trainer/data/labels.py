"""Labels for the images of a folder: a `labels.csv` in (or beside) the folder, one row per image file, or CelebA's
`list_attr_celeba.txt` (a count line, a header line of attribute names, then one whitespace-separated line per image:
its file name and a -1 or 1 per attribute; read as categories "no" / "yes"), in or beside the folder or in an `Anno`
folder there.

The CSV has a header; one column names the file (a column called file, filename, name, image or path, else the
first column whose values end in an image extension), the others are labels: numeric when every filled cell is a
number, except whole numbers with at most MAX_CODE_CATEGORIES values (codes such as gender 0/1), which are
categorical, as is any other column. File names may be relative to the CSV's folder or to the data folder, or bare.
Also: the file names of a folder data set's train and test images, in the order the data set holds them.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path, PurePosixPath

import numpy as np

from trainer.data.images import IMAGE_EXTENSIONS
from trainer.errors import UserError

LABELS_FILE = "labels.csv"
CELEBA_FILE = "list_attr_celeba.txt"
CELEBA_VALUES = {"-1": "no", "1": "yes", "0": "no"}     # some copies write 0 for absent
FILE_COLUMNS = ("file", "filename", "file_name", "name", "image", "path", "img")
MAX_CODE_CATEGORIES = 10       # a whole-number column with at most this many values is a code (gender 0/1, race 0-4)


class LabelError(UserError, ValueError):
    """A labels file cannot be used. The message names the file and the problem."""

    def __init__(self, path: Path | str, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


@dataclass
class LabelColumn:
    """One label per image: numbers (NaN where missing), or category codes (-1 where missing) and their names."""

    name: str
    values: np.ndarray                       # float32 (N,)
    categories: tuple[str, ...] = ()         # non-empty for a categorical column; values are codes into it

    @property
    def is_categorical(self) -> bool:
        return bool(self.categories)


@dataclass
class LabelTable:
    path: Path
    file_column: str
    columns: tuple[str, ...]                 # label columns, in file order
    rows: dict[str, dict[str, str]]          # normalized file name -> {column: cell}

    @cached_property
    def _typed_columns(self) -> dict[str, LabelColumn]:
        return {}

    def column_for(self, column: str, names: list[str]) -> LabelColumn:
        """The column's values for image files `names` (relative paths as the data set lists them). Its kind and
        categories come from the whole file, so the train and the test images of a data set agree on them."""
        if column not in self.columns:
            raise LabelError(self.path, f"has no column {column!r}; its columns are {', '.join(self.columns)}")
        typed = self._typed(column)
        cells = [self._row(name).get(column, "").strip() for name in names]
        if not typed.is_categorical:
            return LabelColumn(column, np.array([float(c) if c else np.nan for c in cells], np.float32))
        code = {category: i for i, category in enumerate(typed.categories)}
        numeric_codes = typed.categories and all(c.lstrip("-").isdigit() for c in typed.categories)
        keys = [str(int(float(c))) if numeric_codes and c else c for c in cells]
        return LabelColumn(column, np.array([code.get(k, -1) for k in keys], np.float32), typed.categories)

    def kind(self, column: str) -> str:
        """"category" or "number": how the column's filled cells read (see the module's rule)."""
        return "category" if self._typed(column).is_categorical else "number"

    def _typed(self, column: str) -> LabelColumn:
        if column not in self._typed_columns:
            self._typed_columns[column] = _typed_column(column, [row.get(column, "").strip()
                                                                 for row in self.rows.values()])
        return self._typed_columns[column]

    def matched(self, names: list[str]) -> int:
        """How many of the image files have a row."""
        return sum(1 for name in names if self._row(name))

    def _row(self, name: str) -> dict[str, str]:
        path = PurePosixPath(_normalized(name))
        for candidate in (str(path), *(str(PurePosixPath(*path.parts[i:])) for i in range(1, len(path.parts)))):
            if candidate in self.rows:
                return self.rows[candidate]
        return self._by_stem.get(path.stem, {})

    @cached_property
    def _by_stem(self) -> dict[str, dict[str, str]]:
        """Rows by file name without folder and extension (images converted to another format keep their stem),
        for stems that name one row only."""
        stems: dict[str, list[dict[str, str]]] = {}
        for name, row in self.rows.items():
            stems.setdefault(PurePosixPath(name).stem, []).append(row)
        return {stem: rows[0] for stem, rows in stems.items() if len(rows) == 1}


def _normalized(name: str) -> str:
    return PurePosixPath(name.strip().replace("\\", "/").lstrip("./")).as_posix()


def _typed_column(name: str, cells: list[str]) -> LabelColumn:
    filled = [c for c in cells if c]
    try:
        numbers = [float(c) for c in filled]
    except ValueError:
        numbers = None
    if numbers is not None:
        distinct = sorted(set(numbers))
        if not (len(distinct) <= MAX_CODE_CATEGORIES and all(float(v).is_integer() for v in distinct)):
            return LabelColumn(name, np.array([float(c) if c else np.nan for c in cells], np.float32))
        code = {value: i for i, value in enumerate(distinct)}
        return LabelColumn(name, np.array([code[float(c)] if c else -1 for c in cells], np.float32),
                           tuple(str(int(v)) for v in distinct))
    categories = tuple(sorted(set(filled)))
    code = {category: i for i, category in enumerate(categories)}
    return LabelColumn(name, np.array([code.get(c, -1) for c in cells], np.float32), categories)


def find_labels_file(folder: Path | str) -> Path | None:
    """`labels.csv` in the data folder, else beside it (in its parent folder), else CelebA's `list_attr_celeba.txt`
    in the folder, beside it or in an `Anno` folder of either; None when there is none."""
    folder = Path(folder).expanduser()
    places = (folder, folder.parent, folder / "Anno", folder.parent / "Anno")
    for candidate in [place / LABELS_FILE for place in places[:2]] + [place / CELEBA_FILE for place in places]:
        if candidate.is_file():
            return candidate
    return None


def read_labels(path: Path | str) -> LabelTable:
    """Read a labels file: CelebA's attribute list when its name is list_attr_celeba.txt or its first line is a
    count, else a CSV. Raises LabelError naming the file and the problem."""
    path = Path(path)
    if path.name.lower() == CELEBA_FILE or _first_line(path).strip().isdigit():
        return read_celeba_attributes(path)
    return _read_csv(path)


def _first_line(path: Path) -> str:
    try:
        with path.open("rb") as handle:
            return handle.readline(200).decode("utf-8", errors="replace")
    except OSError as error:
        raise LabelError(path, f"cannot read the file ({error.strerror or error})") from None


def read_celeba_attributes(path: Path | str) -> LabelTable:
    """CelebA's list_attr_celeba.txt: a count line, a header of attribute names, then per image its file name and
    one -1 / 1 per attribute (whitespace-separated). Values become categories "no" / "yes"."""
    path = Path(path)
    try:
        lines = [line.split() for line in path.read_text(encoding="utf-8-sig").splitlines()]
    except OSError as error:
        raise LabelError(path, f"cannot read the file ({error.strerror or error})") from None
    except UnicodeDecodeError:
        raise LabelError(path, "is not a text file") from None
    if len(lines) < 2 or len(lines[0]) != 1 or not lines[0][0].isdigit():
        raise LabelError(path, "line 1 must be the number of images, as in CelebA's list_attr_celeba.txt")
    header = lines[1]
    if not header or len(set(header)) != len(header):
        raise LabelError(path, "line 2 must name each attribute once")
    rows: dict[str, dict[str, str]] = {}
    for number, cells in enumerate(lines[2:], start=3):
        if not cells:
            continue
        if len(cells) != len(header) + 1:
            raise LabelError(path, f"line {number} has {len(cells)} fields; a file name and {len(header)} "
                                   "attribute values were expected")
        name = _normalized(cells[0])
        if name in rows:
            raise LabelError(path, f"line {number}: the file {cells[0]!r} is listed twice")
        row = {}
        for column, value in zip(header, cells[1:]):
            if value not in CELEBA_VALUES:
                raise LabelError(path, f"line {number}, column {column}: {value!r} is not -1 or 1")
            row[column] = CELEBA_VALUES[value]
        rows[name] = row
    if int(lines[0][0]) != len(rows):
        raise LabelError(path, f"line 1 announces {int(lines[0][0])} images but the file lists {len(rows)}")
    return LabelTable(path=path, file_column="file", columns=tuple(header), rows=rows)


def _read_csv(path: Path) -> LabelTable:
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = [h.strip() for h in next(reader, [])]
            lines = [row for row in reader if any(cell.strip() for cell in row)]
    except OSError as error:
        raise LabelError(path, f"cannot read the file ({error.strerror or error})") from None
    except (UnicodeDecodeError, csv.Error) as error:
        raise LabelError(path, f"is not a readable CSV text file ({error})") from None
    if len(header) < 2 or not all(header) or len(set(header)) != len(header):
        raise LabelError(path, "the first line must name at least two columns (a file name column and a label), "
                               "each once")
    bad = next((i for i, row in enumerate(lines) if len(row) != len(header)), None)
    if bad is not None:
        raise LabelError(path, f"line {bad + 2} has {len(lines[bad])} cells; the header has {len(header)}")
    file_column = _file_column(path, header, lines)
    index = header.index(file_column)
    rows: dict[str, dict[str, str]] = {}
    for number, row in enumerate(lines, start=2):
        name = _normalized(row[index])
        if name in rows:
            raise LabelError(path, f"line {number}: the file {row[index]!r} is listed twice")
        rows[name] = {column: cell for column, cell in zip(header, row) if column != file_column}
    columns = tuple(c for c in header if c != file_column)
    return LabelTable(path=path, file_column=file_column, columns=columns, rows=rows)


def _file_column(path: Path, header: list[str], lines: list[list[str]]) -> str:
    for column in header:
        if column.lower() in FILE_COLUMNS:
            return column
    for i, column in enumerate(header):
        if lines and all(PurePosixPath(row[i].strip()).suffix.lower() in IMAGE_EXTENSIONS for row in lines):
            return column
    raise LabelError(path, f"no column names the image files (call it one of {', '.join(FILE_COLUMNS)}, or "
                           "fill one with file names such as face_001.png)")


def folder_image_names(folder: Path | str, test_fraction: float, n_train: int,
                       n_test: int) -> tuple[list[str], list[str]] | None:
    """Relative paths (posix) of a folder data set's train and test images, in the data set's order.

    Rebuilt from the same split the data set loader uses; None when the counts do not match what was loaded (files
    that failed to decode, or a changed folder), since then names could be attached to the wrong images.
    """
    from trainer.data.listing import folder_splits

    folder = Path(folder).expanduser()
    if not folder.is_dir():
        return None
    train, test = folder_splits(folder, test_fraction)
    if len(train) != n_train or len(test) != n_test:
        return None
    return ([p.relative_to(folder).as_posix() for p in train], [p.relative_to(folder).as_posix() for p in test])
