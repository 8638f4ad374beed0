"""Every uploaded CSV file is read through here: its encoding, then each row's shape and text.

A file that cannot be decoded or a header without the required columns is an ``InvalidInput``
(422); each row comes out with its problems (too long, the wrong number of columns, a character
no text column accepts: NUL, a bidirectional control, ``sampling.text``), which the importer
adds to its own checks of the row's fields and reports by row number, all or nothing. Rows come
out one by one, so a large file streams.
"""

import codecs
import csv
import io
import itertools
from collections.abc import Iterable, Iterator, Sequence
from typing import BinaryIO, NamedTuple

from flask import current_app

from sampling.errors import InvalidInput
from sampling.text import text_problem

ENCODINGS = ("utf-8-sig", "gb18030")  # UTF-8 with or without BOM; GB18030 as Excel saves it in China
UNDECODABLE = "not UTF-8 or GB18030 text (文件编码无法识别)"


def open_csv(stream: BinaryIO) -> io.TextIOWrapper:
    """The text of a CSV file as a stream: UTF-8 if the whole file is UTF-8, else GB18030.

    The file is scanned once in blocks to choose, then read again row by row: never all in memory.
    """
    start = stream.tell()
    decoder = codecs.getincrementaldecoder("utf-8")()
    encoding = ENCODINGS[0]
    try:
        while block := stream.read(1 << 20):
            decoder.decode(block)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        encoding = ENCODINGS[1]
    stream.seek(start)
    return io.TextIOWrapper(stream, encoding=encoding, newline="")


def decode_upload(raw: bytes) -> io.StringIO:
    """Text of an uploaded CSV held in memory (UTF-8, with or without BOM, or GB18030 from Excel)."""
    for encoding in ENCODINGS:
        try:
            return io.StringIO(raw.decode(encoding), newline="")
        except UnicodeDecodeError:
            continue
    raise InvalidInput(f"The file is {UNDECODABLE}", {"file": ["cannot decode"]})


class CsvRow(NamedTuple):
    """One row of an uploaded CSV file: its number (the header is row 1), its fields (None when
    the row could not be read at all) and what is wrong with its shape or text."""

    number: int
    fields: dict[str, str] | None
    problems: list[str]


def csv_rows(lines: Iterable[str], required: Sequence[str], optional: Sequence[str] = (),
             max_chars: int | None = None) -> Iterator[CsvRow]:
    """Each row after the header of a CSV file whose header names at least ``required``: its
    ``{column: stripped text}`` for the required and the present optional columns, and its problems.

    A row's problems: longer than ``max_chars`` characters (setting ``CSV_MAX_LINE_CHARS``), a
    column count other than the header's, text no column can hold. A row the reader cannot parse
    (a broken quote) ends the file: it comes out with ``fields`` None and nothing after it does.
    Blank lines are skipped. A header without the required columns raises ``InvalidInput``.
    """
    max_chars = max_chars or current_app.config["CSV_MAX_LINE_CHARS"]
    reader = csv.reader(lines, strict=True)  # a broken quote is an error, not a field swallowing the file
    header = read_row(reader, 1, max_chars)
    if header is not None and header.problems == [UNDECODABLE]:
        raise InvalidInput(f"The file is {UNDECODABLE}", {"file": ["cannot decode"]})
    if header is None or header.problems or header.fields is None:
        problems = header.problems if header else ["empty file (文件为空)"]
        raise InvalidInput("The file has no readable header (无法读取表头)", {"header": problems})
    names = [name.strip().lower() for name in header.fields]
    missing = [column for column in required if column not in names]
    if missing:
        raise InvalidInput("CSV header is missing columns (表头缺少列)",
                           {"header": [f"missing column: {column}" for column in missing]})
    wanted = [*required, *(column for column in optional if column in names)]
    for number in itertools.count(2):
        row = read_row(reader, number, max_chars)
        if row is None:
            return
        if row.fields is None:
            yield row
            return
        values = row.fields
        if not any(value.strip() for value in values):
            continue
        problems = row.problems
        if len(values) != len(names):
            problems = [*problems, f"has {len(values)} columns, the header has {len(names)} (列数与表头不符)"]
        by_name = dict(zip(names, values, strict=False))
        yield CsvRow(number, {column: by_name.get(column, "").strip() for column in wanted}, problems)


def read_row(reader, number: int, max_chars: int) -> CsvRow | None:
    """The next row of ``reader`` as raw values with its shape and text problems; None at the end."""
    try:
        values = next(reader)
    except StopIteration:
        return None
    except csv.Error as error:  # a broken quote, a field over the reader's size limit
        return CsvRow(number, None, [f"not readable as CSV: {error} (无法解析)"])
    except UnicodeDecodeError:  # a streamed file whose bytes fit neither encoding
        return CsvRow(number, None, [UNDECODABLE])
    problems = []
    joined = "".join(values)
    if len(joined) > max_chars:
        problems.append(f"longer than {max_chars} characters (行过长)")
    if text_problem(joined):  # one look at the whole row; the columns only when something is wrong
        problems += [f"column {column} {text_problem(value)}"
                     for column, value in enumerate(values, start=1) if text_problem(value)]
    return CsvRow(number, values, problems)
