"""ZIP archives for the tests, made at test time: as Chinese Windows' "compressed folder" (and
older archivers) write them, with GBK names and no UTF-8 flag."""

from __future__ import annotations

import io
import zipfile


def gbk_zip(members: dict[str, bytes], encoding: str = "gbk") -> bytes:
    """A ZIP whose member names are stored in GBK (or `encoding`: cp437 for a Western DOS
    archiver) without the UTF-8 flag (bit 11), byte for byte what Windows' compressed folder
    writes on a Chinese system. Python's zipfile writes a
    non-ASCII name as UTF-8 with the flag, so each name is written as an ASCII stand-in of the
    same byte length and the name's bytes are put in its place (local header and central
    directory; the CRCs cover the data, not the names)."""
    buf = io.BytesIO()
    swaps = []
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for n, (name, data) in enumerate(members.items()):
            raw = name.encode(encoding)
            stand_in = f"~{n:04d}~".encode().ljust(len(raw), b"~")
            assert len(stand_in) == len(raw), "names of at least 6 bytes"
            zf.writestr(zipfile.ZipInfo(stand_in.decode()), data)
            swaps.append((stand_in, raw))
    out = buf.getvalue()
    for stand_in, raw in swaps:
        assert out.count(stand_in) == 2  # the local header and the central directory
        out = out.replace(stand_in, raw)
    return out
