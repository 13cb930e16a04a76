"""The file store: content-addressed by sha256 under DOCUMENT_STORE.

A file is written to a temporary name inside the store, hashed while it is
written, and renamed into place only once its checksum is known (and, when the
caller states one, verified), so no partial or wrong file is ever visible
under a checksum. The same bytes are stored once, whatever document they
belong to.
"""

import hashlib
import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from flask import current_app

from app.core.errors import InvalidInput, NotFound

CHUNK = 1024 * 1024
SHA256 = re.compile(r"[0-9a-f]{64}")
SNIFF_BYTES = 2048


class ChecksumMismatch(InvalidInput):
    code = "checksum_mismatch"


class TooLarge(InvalidInput):
    code = "too_large"


def check_sha256(value: str) -> str:
    if not SHA256.fullmatch(value or ""):
        raise InvalidInput("A sha256 is 64 lowercase hex digits.", {"sha256": (value or "")[:80]})
    return value


class FileStore:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path(self, sha256: str) -> Path:
        check_sha256(sha256)
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def put(self, stream: BinaryIO, *, max_bytes: int, expected_sha256: str | None = None) -> tuple[str, int, bytes]:
        """Store what `stream` yields; returns (sha256, size, first bytes for sniffing)."""
        if expected_sha256 is not None:
            check_sha256(expected_sha256)
        tmp_dir = self.root / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        tmp = tmp_dir / uuid.uuid4().hex
        digest, size, head = hashlib.sha256(), 0, b""
        try:
            with tmp.open("wb") as out:
                while chunk := stream.read(CHUNK):
                    size += len(chunk)
                    if size > max_bytes:
                        raise TooLarge(
                            f"The file is larger than the limit of {max_bytes} bytes.", {"max_bytes": max_bytes}
                        )
                    if len(head) < SNIFF_BYTES:
                        head += chunk[: SNIFF_BYTES - len(head)]
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            sha256 = digest.hexdigest()
            if expected_sha256 is not None and sha256 != expected_sha256:
                raise ChecksumMismatch(
                    "The file's sha256 does not match the one stated; nothing was stored.",
                    {"expected": expected_sha256, "actual": sha256},
                )
            final = self.path(sha256)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, final)  # atomic; the same bytes may land twice, the result is the same file
            return sha256, size, head
        finally:
            tmp.unlink(missing_ok=True)

    def open(self, sha256: str) -> BinaryIO:
        try:
            return self.path(sha256).open("rb")
        except FileNotFoundError:
            raise NotFound(f"No file {sha256} in the document store.") from None

    def chunks(self, sha256: str) -> Iterator[bytes]:
        with self.open(sha256) as handle:
            while chunk := handle.read(CHUNK):
                yield chunk


def store() -> FileStore:
    return FileStore(current_app.config["DOCUMENT_STORE"])


# Content types by magic bytes, for the files engineering documents usually are.
_MAGIC = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF8", "image/gif"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
    (b"PK\x03\x04", "application/zip"),
    (b"ISO-10303-21;", "model/step"),
    (b"\xd0\xcf\x11\xe0", "application/x-ole-storage"),
)


def sniff(head: bytes) -> str:
    """The content type from the file's first bytes; a client's claim is not trusted."""
    for magic, content_type in _MAGIC:
        if head.startswith(magic):
            return content_type
    if head.lstrip().lower().startswith(b"solid") and b"facet" in head:
        return "model/stl"
    if not head:
        return "application/octet-stream"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:  # a multi-byte character cut at the end of the sample is still text
            return "application/octet-stream"
    return "text/plain" if b"\x00" not in head else "application/octet-stream"
