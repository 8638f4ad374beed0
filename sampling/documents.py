"""Uploaded documents (a rectification report): what a file is, judged by its content.

The client's file name and declared type are not trusted: the first bytes say what it is.
"""

import hashlib

from sampling.errors import InvalidInput

# The documents accepted, by the bytes they start with.
SIGNATURES = (
    ("application/pdf", b"%PDF-"),
    ("image/png", b"\x89PNG\r\n\x1a\n"),
    ("image/jpeg", b"\xff\xd8\xff"),
)


def sniff(content: bytes) -> str | None:
    """The content type ``content`` starts like, or None."""
    return next((kind for kind, magic in SIGNATURES if content.startswith(magic)), None)


def check_document(field: str, content: bytes, max_bytes: int) -> str:
    """The content type of an accepted document, or InvalidInput on ``field``: empty, larger
    than ``max_bytes``, or neither a PDF nor a PNG or JPEG image."""
    if not content:
        raise InvalidInput("the file is empty (文件为空)", {field: ["must not be empty"]})
    if len(content) > max_bytes:
        message = f"must be at most {max_bytes} bytes"
        raise InvalidInput(f"the file is too large (文件过大): {message}", {field: [message]})
    kind = sniff(content)
    if kind is None:
        message = "must be a PDF, PNG or JPEG file (judged by its content)"
        raise InvalidInput(f"unsupported file type (文件类型不支持): {message}", {field: [message]})
    return kind


def sha256_hex(content: bytes) -> str:
    """The SHA-256 of ``content``, lowercase hex."""
    return hashlib.sha256(content).hexdigest()
