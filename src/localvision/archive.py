"""Read the images inside a ZIP, in memory, with limits; nothing is ever extracted to disk and
member names are only labels, never paths.

Limits: the number of members, the total uncompressed bytes (counted as they are actually read,
since header sizes can lie) and each member's compression ratio. A ZIP whose entries overlap is
refused whole. A member that is itself an archive, encrypted, a symbolic link, or damaged gets an
error of its own; the other members still count.
"""

from __future__ import annotations

import io
import stat
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from .errors import (
    ArchiveTooLarge,
    CorruptImage,
    EncryptedMember,
    FileTooLarge,
    InvalidArchive,
    LocalVisionError,
    NestedArchive,
    UnsupportedFormat,
)
from .imaging import MB

# A photo compresses maybe 1.1:1 in a ZIP and a flat PNG 10:1; 100:1 is a bomb, not a photo.
MAX_RATIO = 100
ARCHIVE_MAGICS = (b"PK\x03\x04", b"\x1f\x8b", b"7z\xbc\xaf", b"Rar!", b"BZh")


def is_zip(data: bytes | None) -> bool:
    """Whether these bytes are a ZIP archive, by content (a local file header, or the end record
    of an empty archive), never by name."""
    return bool(data) and data[:4] in (b"PK\x03\x04", b"PK\x05\x06")


@dataclass
class Member:
    name: str
    data: bytes | None
    error: LocalVisionError | None = None


@dataclass
class Entry:
    """A file in a ZIP as the policy sees it before reading it: its name as its writer meant
    it, and the refusal it already earned (a link, encrypted, compressed like a bomb), if any."""

    info: zipfile.ZipInfo
    name: str
    refusal: LocalVisionError | None


def open_zip(source: bytes | Path) -> zipfile.ZipFile:
    """The archive, or InvalidArchive: the bytes of an upload, or a file on disk."""
    try:
        return zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else source)
    except Exception:  # BadZipFile, but a damaged directory can raise struct.error and others too
        raise InvalidArchive("This file is not a readable ZIP archive.") from None


def entries(zf: zipfile.ZipFile, max_members: int) -> list[Entry]:
    """The files of the archive a reader may look at, in order: folders, macOS resource forks
    and hidden files left out. The archive is refused whole when its entries overlap (a
    zip-bomb trick) or it holds more than `max_members` files."""
    if _overlapping(zf.infolist()):
        raise InvalidArchive(
            "The ZIP's entries overlap one another (a zip-bomb trick); it is not read."
        )
    infos = [i for i in zf.infolist() if not i.is_dir()]
    if len(infos) > max_members:
        raise ArchiveTooLarge(f"The ZIP holds {len(infos)} files; the limit is {max_members}.")
    return [
        Entry(info, name, _refusal(info))
        for info, name in zip(infos, member_names(infos))
        if not _skippable(name)
    ]


def read_chunks(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, max_bytes: int, budget: int
) -> Iterator[bytes]:
    """A member's bytes as they are decompressed (sizes in headers can lie, so they are counted
    here). FileTooLarge past `max_bytes`, ArchiveTooLarge past what is left of the archive's
    `budget`, NestedArchive for an archive inside, CorruptImage when the decompressor trips: each
    is this member's error, except ArchiveTooLarge, which is the whole archive's."""
    size, first = 0, True
    try:
        with zf.open(info) as f:
            while chunk := f.read(1 << 16):
                if first and chunk.startswith(ARCHIVE_MAGICS):
                    raise NestedArchive("Archives inside the ZIP are not opened.")
                first = False
                size += len(chunk)
                if size > min(max_bytes, budget):
                    if budget < max_bytes:  # the archive's total budget ran out
                        raise ArchiveTooLarge(
                            "The ZIP expands to more than the limit; send fewer or smaller images."
                        )
                    raise FileTooLarge(f"This file is larger than {max_bytes / MB:g} MB.")
                yield chunk
    except LocalVisionError:
        raise
    except Exception as exc:  # BadZipFile, EOFError, zlib.error, lzma.LZMAError, struct.error...
        # whatever the decompressor trips on, it is this member's damage: only its row fails
        raise CorruptImage(f"This file is damaged inside the ZIP ({exc}).") from None


def read_zip(
    data: bytes,
    *,
    max_members: int,
    max_total_bytes: int,
    max_member_bytes: int,
) -> list[Member]:
    """Every image member of an uploaded ZIP, read in memory; a member's own error in its row."""
    with open_zip(data) as zf:
        members, total = [], 0
        for entry in entries(zf, max_members):
            if entry.refusal is not None:
                members.append(Member(entry.name, None, entry.refusal))
                continue
            try:
                body = b"".join(
                    read_chunks(zf, entry.info, max_member_bytes, max_total_bytes - total)
                )
            except ArchiveTooLarge:
                raise
            except LocalVisionError as exc:
                members.append(Member(entry.name, None, exc))
                continue
            total += len(body)
            members.append(Member(entry.name, body))
        return members


# The encodings a ZIP's names are tried in when the UTF-8 flag is not set (APPNOTE: CP437 then),
# in this order: many tools write UTF-8 without saying so; Chinese Windows' "compressed folder"
# and older archivers write the system's code page, GBK (GB18030 is its superset); CP437 decodes
# any bytes, so it has the last word. One tool wrote the whole archive, so one encoding is
# chosen for all of its names: a short GBK name can pass for UTF-8 by chance (猫 is C3 A8 in
# GBK, and "è" in UTF-8), several rarely do.
NAME_ENCODINGS = ("utf-8", "gb18030", "cp437")
UNICODE_PATH_EXTRA = 0x7075  # Info-ZIP's "Unicode Path" extra field: the name in UTF-8


def member_names(infos: list[zipfile.ZipInfo]) -> list[str]:
    """Each member's name as its writer meant it: UTF-8 when the member says so (flag bit 11,
    or an Info-ZIP Unicode Path field written for this very name), else in the first of
    NAME_ENCODINGS that reads every such name of the archive."""
    raw = [None if i.flag_bits & 0x800 else i.filename.encode("cp437") for i in infos]
    # zipfile decoded an unflagged name as CP437: encoding it again gives back its bytes
    named = [
        i.filename if r is None else _unicode_path(i.extra, r) for i, r in zip(infos, raw)
    ]
    guess = [r for r, n in zip(raw, named) if n is None]
    encoding = next(e for e in NAME_ENCODINGS if all(_decodes(r, e) for r in guess))
    return [n if n is not None else r.decode(encoding) for r, n in zip(raw, named)]


def _decodes(raw: bytes, encoding: str) -> bool:
    try:
        raw.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def _unicode_path(extra: bytes, raw: bytes) -> str | None:
    """The UTF-8 name of an Info-ZIP Unicode Path extra field (0x7075), when it is there and
    was written for this very name (its CRC-32 of the raw name matches)."""
    at = 0
    while at + 4 <= len(extra):
        kind, size = struct.unpack_from("<HH", extra, at)
        body = extra[at + 4 : at + 4 + size]
        at += 4 + size
        if kind == UNICODE_PATH_EXTRA and len(body) > 5 and body[0] == 1:
            (crc,) = struct.unpack_from("<I", body, 1)
            if crc == zlib.crc32(raw):
                try:
                    return body[5:].decode("utf-8")
                except UnicodeDecodeError:
                    return None
    return None


def _skippable(name: str) -> bool:
    """macOS resource forks and hidden files are not the user's images."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]  # Windows tools may write backslashes
    return name.startswith("__MACOSX/") or base.startswith(".")


def _overlapping(infos: list[zipfile.ZipInfo]) -> bool:
    """Whether two entries share bytes: the same local header listed twice, or one member's data
    running over the next one's header (Fifield's non-recursive zip bombs). A local header is at
    least 30 bytes before its data, so this lower bound on each extent is enough to tell."""
    spans = sorted((i.header_offset, i.header_offset + 30 + i.compress_size) for i in infos)
    return any(end > next_start for (_, end), (next_start, _) in zip(spans, spans[1:]))


def _refusal(info: zipfile.ZipInfo) -> LocalVisionError | None:
    """What a member earns from its header alone: a link is never followed, an encrypted one
    cannot be read, one compressed like a bomb is not opened."""
    if stat.S_ISLNK(info.external_attr >> 16):
        return UnsupportedFormat("This entry is a symbolic link; links are not followed.")
    if info.flag_bits & 0x1:
        return EncryptedMember("This file is encrypted and cannot be read.")
    if info.compress_size and info.file_size / info.compress_size > MAX_RATIO:
        return ArchiveTooLarge("This file is compressed suspiciously well.")
    return None
