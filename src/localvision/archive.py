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


def read_zip(
    data: bytes,
    *,
    max_members: int,
    max_total_bytes: int,
    max_member_bytes: int,
) -> list[Member]:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except Exception:  # BadZipFile, but a damaged directory can raise struct.error and others too
        raise InvalidArchive("This file is not a readable ZIP archive.") from None
    with zf:
        if _overlapping(zf.infolist()):
            raise InvalidArchive(
                "The ZIP's entries overlap one another (a zip-bomb trick); it is not read."
            )
        infos = [i for i in zf.infolist() if not i.is_dir()]
        if len(infos) > max_members:
            raise ArchiveTooLarge(
                f"The ZIP holds {len(infos)} files; the limit is {max_members}."
            )
        members, total = [], 0
        for info, name in zip(infos, member_names(infos)):
            if _skippable(name):
                continue
            member = _read_member(zf, info, name, max_member_bytes, max_total_bytes - total)
            total += len(member.data or b"")
            members.append(member)
            if total > max_total_bytes:
                raise ArchiveTooLarge(
                    f"The ZIP expands to more than {max_total_bytes / MB:g} MB; "
                    "send fewer or smaller images."
                )
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
    base = name.rsplit("/", 1)[-1]
    return name.startswith("__MACOSX/") or base.startswith(".")


def _overlapping(infos: list[zipfile.ZipInfo]) -> bool:
    """Whether two entries share bytes: the same local header listed twice, or one member's data
    running over the next one's header (Fifield's non-recursive zip bombs). A local header is at
    least 30 bytes before its data, so this lower bound on each extent is enough to tell."""
    spans = sorted((i.header_offset, i.header_offset + 30 + i.compress_size) for i in infos)
    return any(end > next_start for (_, end), (next_start, _) in zip(spans, spans[1:]))


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(info.external_attr >> 16)


def _read_member(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, max_bytes: int, budget: int
) -> Member:
    if _is_symlink(info):
        return Member(
            name, None, UnsupportedFormat("This entry is a symbolic link; links are not followed.")
        )
    if info.flag_bits & 0x1:
        return Member(name, None, EncryptedMember("This file is encrypted and cannot be read."))
    if info.compress_size and info.file_size / max(info.compress_size, 1) > MAX_RATIO:
        return Member(name, None, ArchiveTooLarge("This file is compressed suspiciously well."))
    limit = min(max_bytes, max(budget, 0))
    try:
        with zf.open(info) as f:
            chunks, size = [], 0
            while chunk := f.read(1 << 16):
                size += len(chunk)
                if size > limit:
                    if limit < max_bytes:  # the archive's total budget ran out
                        raise ArchiveTooLarge(
                            "The ZIP expands to more than the limit; send fewer or smaller images."
                        )
                    return Member(
                        name, None, FileTooLarge(f"This file is larger than {max_bytes / MB:g} MB.")
                    )
                chunks.append(chunk)
    except ArchiveTooLarge:
        raise
    except Exception as exc:  # BadZipFile, EOFError, zlib.error, lzma.LZMAError, struct.error...
        # whatever the decompressor trips on, it is this member's damage: only its row fails
        return Member(name, None, CorruptImage(f"This file is damaged inside the ZIP ({exc})."))
    data = b"".join(chunks)
    if data.startswith(ARCHIVE_MAGICS):
        return Member(name, None, NestedArchive("Archives inside the ZIP are not opened."))
    return Member(name, data)
