"""A hostile-input corpus, generated at test time: every case is built in memory from real photos
(tests/corpus.py) or a few literal bytes, so nothing binary lives in the repository.

Each `HostileCase` says what to send and what must come back:

- `build_request()` returns a `Request(method, path, headers, body)` sent as-is over a raw socket
  (auth cases: `build_request(AuthContext)`, for credentials made by the test's server), or the
  case has a `drive(host, port) -> Reply` callable instead, for what a plain request cannot
  express (a body streamed without a length, a connection that stops sending, bytes that are not
  HTTP).
- `early`: the refusal must arrive before the whole body was sent (the server answers from the
  head, or as the limit is crossed, rather than reading everything first).
- `expect_status` / `expect_code`: the HTTP status, and the error code of the JSON body
  (`{"error": {"code", "message"}}`).
- `row_code`: for `POST /api/v1/classify` and `/classify/zip`, a bad *image* fails only its own
  row, so the answer is a 200 whose rows carry the code: `row_code` is the code every row not
  named `coffee.jpg` must have ("ok" when it must be classified), and a `coffee.jpg` row, where a
  case has one, must still say espresso.

Decisions this corpus documents (the tests hold the service to them):

- Content decides the format, never the name or the declared type. A valid image followed by
  junk (a JPEG with HTML appended, the classic GIF/JavaScript polyglot, a PNG with a ZIP glued
  on) is classified: the service never serves uploaded bytes back, so the trailing bytes can
  reach no browser or interpreter, and refusing them would refuse real-world files (cameras
  and editors append thumbnails and metadata after the end-of-image marker).
- Member names inside a ZIP are labels, never paths: `../`, absolute and drive-letter names are
  classified like any other member and reported under their name; nothing is written to disk.
- Symbolic-link entries are never followed; their row says so (`unsupported_format`).
- Entries whose data overlap (the "overlapping files" zip bomb) make the whole ZIP invalid.
- A file that starts like a supported format but whose header is damaged (a bad IHDR CRC, a PNG
  cut after its signature) is `corrupt_image`, not `unsupported_format`. A PNG whose IDAT CRC is
  wrong but whose zlib stream is intact is classified (Pillow, like most decoders, trusts the
  stream's own Adler-32); a JPEG missing only its end marker is `corrupt_image` (Pillow cannot
  tell it from a cut-off file, and half an image is never classified).
- HTTP limits are those of server/guards/body.py, at their defaults (the slow-client deadlines are
  shortened by the test server, see SLOW_CLIENT_SETTINGS); auth is that of server/guards/gate.py.

    hostile_cases()            every case
    cases_by_family(family)    "image", "zip", "http" or "auth"
"""

from __future__ import annotations

import io
import random
import select
import socket
import stat
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from typing import Callable, NamedTuple

import numpy as np
from PIL import Image

from corpus import _encode, _png, huge_dimensions_png, photo, real_photo_bytes

CLASSIFY = "/api/v1/classify"
ZIP = "/api/v1/classify/zip"
PREDICT = "/predict"
BOUNDARY = "hostile-boundary-7d3f"


class Request(NamedTuple):
    method: str
    path: str
    headers: list[tuple[str, str]]
    body: bytes


class Reply(NamedTuple):
    status: int
    headers: dict[str, str]
    body: bytes
    sent: int | None = None  # body bytes sent before the answer came (streamed cases)
    total: int | None = None  # body bytes the case would have sent in all


@dataclass(frozen=True)
class HostileCase:
    name: str
    family: str  # image | zip | http | auth
    build_request: Callable[..., Request] | None
    expect_status: int
    expect_code: str | tuple[str, ...] | None = None  # the body's error code (or one of them)
    row_code: str | None = None  # for a 200 from the classify endpoints: see the module docstring
    drive: Callable[[str, int], Reply] | None = field(default=None, compare=False)
    note: str = ""
    early: bool = False  # the refusal must come before the whole body was sent


# --- a raw HTTP/1.1 client: sends exactly the bytes a case asks for ---------------------------
def _read_reply(sock: socket.socket, timeout: float) -> Reply:
    sock.settimeout(timeout)
    data = b""
    while True:
        try:
            chunk = sock.recv(1 << 16)
        except ConnectionResetError:  # the server closed with our unread body in its buffer
            break
        if not chunk:
            break
        data += chunk
        head_end = data.find(b"\r\n\r\n")
        if head_end >= 0:
            headers = _parse_headers(data[:head_end])
            length = headers.get("content-length")
            if length is not None and len(data) >= head_end + 4 + int(length):
                break
            if headers.get("transfer-encoding") == "chunked" and data.endswith(b"0\r\n\r\n"):
                break
    head, _, body = data.partition(b"\r\n\r\n")
    if not head:
        raise ConnectionError("the server closed the connection without an answer")
    status = int(head.split(b" ", 2)[1])
    headers = _parse_headers(head)
    if headers.get("transfer-encoding") == "chunked":
        body = _dechunk(body)
    return Reply(status, headers, body)


def _parse_headers(head: bytes) -> dict[str, str]:
    lines = head.decode("latin-1").split("\r\n")[1:]
    return {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}


def _dechunk(body: bytes) -> bytes:
    out = b""
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += rest[:size]
        body = rest[size + 2 :]
    return out


def _send_until_answered(sock: socket.socket, data: bytes, timeout: float) -> int:
    """Send `data`, stopping early once the server answers (or closes): a server that refuses a
    request before reading its whole body must not make the client block. Returns bytes sent."""
    sent = 0
    while sent < len(data):
        readable, writable, _ = select.select([sock], [sock], [], timeout)
        if readable:
            return sent
        if not writable:
            raise TimeoutError("the server neither read the body nor answered")
        try:
            sent += sock.send(data[sent : sent + (1 << 16)])
        except (BrokenPipeError, ConnectionResetError):
            return sent
    return sent


def send(host: str, port: int, request: Request, timeout: float = 60.0) -> Reply:
    """Send `request` on a fresh connection (`Connection: close`) and read the whole answer.
    Host and Content-Length are added unless the request sets them (or Transfer-Encoding)."""
    headers = list(request.headers)
    names = {k.lower() for k, _ in headers}
    if "host" not in names:
        headers.insert(0, ("Host", f"{host}:{port}"))
    if not names & {"content-length", "transfer-encoding"} and request.method != "GET":
        headers.append(("Content-Length", str(len(request.body))))
    headers.append(("Connection", "close"))
    head = f"{request.method} {request.path} HTTP/1.1\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in headers
    )
    with socket.create_connection((host, port), timeout=timeout) as sock:
        _send_until_answered(sock, head.encode("latin-1") + b"\r\n" + request.body, timeout)
        return _read_reply(sock, timeout)


def stream(
    host: str, port: int, head: bytes, chunks, total: int, timeout: float = 30.0, pause: float = 0.0
) -> Reply:
    """Send a request head, then body chunks until the server answers (or `chunks` runs out, then
    wait `pause` seconds more for an answer); the reply says how much of the body went out."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(head)
        sent = 0
        for chunk in chunks:
            n = _send_until_answered(sock, chunk, timeout)
            sent += n
            if n < len(chunk):
                break
        else:
            select.select([sock], [], [], pause)
        return _read_reply(sock, timeout)._replace(sent=sent, total=total)


def run_case(case: "HostileCase", host: str, port: int, context=None) -> Reply:
    if case.drive is not None:
        return case.drive(host, port)
    request = case.build_request(context) if case.family == "auth" else case.build_request()
    return send(host, port, request)


# --- request builders ---------------------------------------------------------------------------
def multipart(parts: list[tuple[str, str | None, bytes]], boundary: str = BOUNDARY) -> bytes:
    """parts: (field name, filename or None for a plain field, content)."""
    out = []
    for name, filename, content in parts:
        disp = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        head = f"--{boundary}\r\nContent-Disposition: {disp}\r\n"
        if filename:
            head += "Content-Type: application/octet-stream\r\n"
        out.append(head.encode() + b"\r\n" + content + b"\r\n")
    return b"".join(out) + f"--{boundary}--\r\n".encode()


def form_request(path: str, parts, *, headers=(), boundary: str = BOUNDARY) -> Request:
    body = multipart(parts, boundary)
    hdrs = [("Content-Type", f"multipart/form-data; boundary={boundary}"), *headers]
    return Request("POST", path, hdrs, body)


def upload(path: str, filename: str, data: bytes, headers=()) -> Request:
    return form_request(path, [("file", filename, data)], headers=headers)


# --- images: hand-built headers -----------------------------------------------------------------
def _gif_header(width: int, height: int) -> bytes:
    """A complete, tiny GIF whose logical screen (what Pillow reports as its size) is huge."""
    lzw = bytes([0x02, 0x02, 0x44, 0x01, 0x00])  # min code size 2, one block: a single pixel
    return (
        b"GIF89a" + struct.pack("<HHBBB", width, height, 0x80, 0, 0)
        + b"\x00\x00\x00\xff\xff\xff"  # global colour table, 2 entries
        + b"," + struct.pack("<HHHHB", 0, 0, 1, 1, 0) + lzw + b";"
    )  # fmt: skip


def _bmp_header(width: int, height: int, bits: int = 24) -> bytes:
    """A BITMAPINFOHEADER declaring width×height with no pixel data behind it."""
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, bits, 0, 0, 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 14 + len(info), 0, 0, 14 + len(info)) + info


def _tiff(
    width: int,
    height: int,
    data: bytes = b"\x00" * 16,
    *,
    bits=(8,),
    photometric=1,
    sample_format: int | None = None,
    compression: int = 1,
    extra=(),
) -> bytes:
    """A little-endian baseline TIFF, one strip; `data` is the strip as stored."""
    spp = len(bits)
    entries = [
        (256, 4, 1, width),  # ImageWidth
        (257, 4, 1, height),  # ImageLength
        (258, 3, spp, bits),  # BitsPerSample
        (259, 3, 1, compression),
        (262, 3, 1, photometric),
        (273, 4, 1, 0),  # StripOffsets, patched below
        (277, 3, 1, spp),  # SamplesPerPixel
        (278, 4, 1, height),  # RowsPerStrip
        (279, 4, 1, len(data)),  # StripByteCounts
        *extra,
    ]
    if sample_format is not None:
        entries.append((339, 3, spp, (sample_format,) * spp))
    entries.sort()
    ifd_size = 2 + 12 * len(entries) + 4
    blob_at = 8 + ifd_size
    blobs = b""
    out = b""
    for tag, typ, count, value in entries:
        values = value if isinstance(value, tuple) else (value,)
        fmt = {3: "H", 4: "I"}[typ]
        packed = struct.pack("<" + fmt * count, *values)
        if len(packed) <= 4:
            out += struct.pack("<HHI", tag, typ, count) + packed.ljust(4, b"\x00")
        else:
            out += struct.pack("<HHII", tag, typ, count, blob_at + len(blobs))
            blobs += packed
    data_at = blob_at + len(blobs)
    out = out.replace(struct.pack("<HHII", 273, 4, 1, 0), struct.pack("<HHII", 273, 4, 1, data_at))
    return (
        b"II*\x00"
        + struct.pack("<I", 8)
        + struct.pack("<H", len(entries))
        + out
        + b"\x00" * 4
        + blobs
        + data
    )


def _jpeg_sof(width: int, height: int) -> bytes:
    """A real JPEG with its frame header (SOF0) rewritten to declare width×height."""
    data = bytearray(real_photo_bytes("coffee"))
    i = data.index(b"\xff\xc0")
    struct.pack_into(">HH", data, i + 5, height, width)
    return bytes(data)


def _webp_vp8x(width: int, height: int) -> bytes:
    """An extended WebP whose canvas (VP8X) declares width×height, around a tiny real frame."""
    small = _encode(photo("chelsea").resize((16, 16)), "WEBP", quality=50)
    frame = small[12:]  # the VP8 chunk of a simple WebP
    vp8x = (
        b"VP8X"
        + struct.pack("<I", 10)
        + b"\x00\x00\x00\x00"
        + (width - 1).to_bytes(3, "little")
        + (height - 1).to_bytes(3, "little")
    )
    body = b"WEBP" + vp8x + frame
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _png_zeros(width: int, height: int, bit_depth: int = 1, color_type: int = 0) -> bytes:
    """A real decompression bomb: a valid PNG of width×height black pixels, deflated to almost
    nothing (1-bit rows of zeros compress about 1000:1)."""
    row = b"\x00" * (1 + (width * bit_depth + 7) // 8)
    z = zlib.compressobj(9)
    idat = b"".join(z.compress(row) for _ in range(height)) + z.flush()
    return _png(width, height, bit_depth, color_type, idat)


def _corrupt_huffman(jpeg: bytes) -> bytes:
    """Fill the first Huffman table's code counts with 0xFF: more codes than 16 bits can hold."""
    data = bytearray(jpeg)
    i = data.index(b"\xff\xc4")
    data[i + 5 : i + 21] = b"\xff" * 16
    return bytes(data)


def _scramble_scan(jpeg: bytes) -> bytes:
    """Keep the headers, replace the entropy-coded data with seeded noise."""
    i = jpeg.index(b"\xff\xda")
    length = struct.unpack(">H", jpeg[i + 2 : i + 4])[0]
    start = i + 2 + length
    noise = bytes(
        b if b != 0xFF else 0xFE for b in random.Random(1).randbytes(len(jpeg) - start - 2)
    )
    return jpeg[:start] + noise + b"\xff\xd9"


def _png_bad_crc(chunk: bytes) -> bytes:
    data = bytearray(real_photo_bytes("chelsea", "PNG"))
    i = data.index(chunk)
    length = struct.unpack(">I", data[i - 4 : i])[0]
    crc_at = i + 4 + length
    data[crc_at : crc_at + 4] = bytes(b ^ 0xFF for b in data[crc_at : crc_at + 4])
    return bytes(data)


def _png_garbage_idat() -> bytes:
    return _png(64, 64, 8, 2, random.Random(2).randbytes(2000))


def _gif_js_polyglot() -> bytes:
    """The classic GIF/JavaScript polyglot: the width bytes are `/*`, so the GIF opens a JS comment
    that closes after the trailer and is followed by script."""
    gif = bytearray(_encode(photo("chelsea").resize((64, 64)), "GIF"))
    gif[6:8] = b"/*"  # logical screen width 0x2a2f = 10799 (x 64 rows: well under the limit)
    return bytes(gif) + b"*/=alert(document.domain);//"


def _small(fmt: str, mode: str, **params) -> bytes:
    im = photo("chelsea").resize((96, 64))
    return _encode(im.convert(mode) if mode != "RGB" else im, fmt, **params)


def _lab_tiff() -> bytes:
    return _encode(photo("chelsea").resize((96, 64)).convert("LAB"), "TIFF")


def _float_tiff() -> bytes:
    a = np.asarray(photo("camera").resize((96, 64)), np.float32) / 255.0
    return _encode(Image.fromarray(a, "F"), "TIFF")


def _int32_tiff() -> bytes:
    a = np.asarray(photo("camera").resize((96, 64)), np.int32) * 65537
    return _encode(Image.fromarray(a, "I"), "TIFF")


def _gray16_png() -> bytes:
    a = np.asarray(photo("camera").resize((96, 64)), np.uint16) * 257
    return _encode(Image.fromarray(a), "PNG")


def _zip_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + struct.pack("<HHI", 2, 62, 1) + b"\x00" * 40
EPS = (
    b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 64 64\n0 0 moveto 64 64 lineto stroke\nshowpage\n"
)


def _image_specs() -> list[tuple[str, Callable[[], bytes], str, str]]:
    """(name, build bytes, expected row code, note)."""
    jpeg = real_photo_bytes("coffee")
    png = real_photo_bytes("chelsea", "PNG")
    gif = _encode(photo("chelsea").resize((128, 96)), "GIF")
    webp = real_photo_bytes("chelsea", "WEBP")
    tiff = real_photo_bytes("chelsea", "TIFF")
    bmp = real_photo_bytes("chelsea", "BMP")
    # fmt: off
    return [
        # decompression bombs: tiny files that declare enormous images
        ("bomb_png_header", huge_dimensions_png, "image_too_large", "30000x30000 PNG, short IDAT"),
        ("bomb_png_real", lambda: _png_zeros(10_000, 6_000), "image_too_large",
         "a valid 60 MP 1-bit PNG deflated to a few KB: over the 50 MP limit, under Pillow's own"),
        ("bomb_png_wide", lambda: huge_dimensions_png(2**31 - 1, 1), "image_too_large",
         "2^31-1 x 1"),
        ("bomb_gif", lambda: _gif_header(65535, 65535), "image_too_large", "GIF screen 65535²"),
        ("bomb_bmp", lambda: _bmp_header(50_000, 50_000), "image_too_large", "BMP 50000²"),
        ("bomb_bmp_negative_height", lambda: _bmp_header(50_000, -50_000), "image_too_large",
         "top-down BMP (negative height) 50000²"),
        ("bomb_tiff", lambda: _tiff(100_000, 100_000), "image_too_large", "TIFF 100000²"),
        ("bomb_jpeg", lambda: _jpeg_sof(65_000, 65_000), "image_too_large", "JPEG SOF 65000²"),
        ("bomb_webp", lambda: _webp_vp8x(16_384, 16_384), "image_too_large", "WebP canvas 16384²"),
        ("zero_width_png", lambda: huge_dimensions_png(0, 64), "corrupt_image", "width 0"),
        # truncation at several offsets
        ("truncated_jpeg_soi", lambda: jpeg[:4], "corrupt_image", "the start-of-image marker only"),
        ("truncated_jpeg_header", lambda: jpeg[:300], "corrupt_image", "cut inside the headers"),
        ("truncated_jpeg_10pct", lambda: jpeg[: len(jpeg) // 10], "corrupt_image", "10%"),
        ("truncated_jpeg_90pct", lambda: jpeg[: len(jpeg) * 9 // 10], "corrupt_image", "90%"),
        ("truncated_png_signature", lambda: png[:8], "corrupt_image", "signature only"),
        ("truncated_png_ihdr", lambda: png[:33], "corrupt_image", "signature + IHDR, no IDAT"),
        ("truncated_png_half", lambda: png[: len(png) // 2], "corrupt_image", "50%"),
        ("truncated_gif", lambda: gif[: len(gif) // 2], "corrupt_image", "50% of a GIF"),
        ("truncated_webp", lambda: webp[: len(webp) // 2], "corrupt_image", "50% of a WebP"),
        ("truncated_tiff", lambda: tiff[: len(tiff) // 2], "corrupt_image", "50% of a TIFF"),
        ("truncated_bmp", lambda: bmp[: len(bmp) // 2], "corrupt_image", "50% of a BMP"),
        # damaged
        ("jpeg_corrupt_huffman", lambda: _corrupt_huffman(jpeg), "corrupt_image",
         "a Huffman table with more codes than 16 bits hold"),
        ("jpeg_scrambled_scan", lambda: _scramble_scan(jpeg), "ok",
         "headers intact, entropy-coded data replaced by noise: libjpeg decodes noise to (ugly) "
         "pixels, which is a valid, if meaningless, image"),
        ("png_bad_crc_ihdr", lambda: _png_bad_crc(b"IHDR"), "corrupt_image", "IHDR CRC flipped"),
        ("png_bad_crc_idat", lambda: _png_bad_crc(b"IDAT"), "ok",
         "IDAT CRC flipped, pixel data intact: Pillow skips IDAT CRCs (the zlib stream carries its "
         "own Adler-32), so the image is classified"),
        ("png_no_iend", lambda: png[:-12], "ok", "all pixel data present, IEND missing"),
        ("jpeg_no_eoi", lambda: jpeg[:-2], "corrupt_image",
         "end-of-image marker missing: Pillow cannot tell it from a cut-off file, and half an "
         "image is never classified"),
        ("png_garbage_idat", _png_garbage_idat, "corrupt_image", "IDAT is not zlib data"),
        ("tiff_strip_past_end", lambda: _tiff(64, 64, b"\x00" * 16), "corrupt_image",
         "the strip byte count promises 4096 bytes, the file holds 16"),
        # polyglots: a valid image with trailing bytes is classified (module docstring)
        ("polyglot_jpeg_html", lambda: jpeg + b"<html><script>alert(1)</script></html>", "ok",
         "JPEG + HTML appended"),
        ("polyglot_gif_js", _gif_js_polyglot, "ok", "GIF89a/* ... */=alert(...)"),
        ("polyglot_png_zip", lambda: png + _zip_bytes({"x.txt": b"hello"}), "ok",
         "PNG with a ZIP glued on"),
        ("polyglot_html_then_jpeg", lambda: b"<html><body>\n" + jpeg, "unsupported_format",
         "HTML first, JPEG later: content is sniffed at the start"),
        # wrong types
        ("type_pdf", lambda: b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n%%EOF\n",
         "unsupported_format", "PDF"),
        ("type_svg", lambda: b'<svg xmlns="http://www.w3.org/2000/svg" width="9e9" height="9e9"/>',
         "unsupported_format", "SVG"),
        ("type_html", lambda: b"<!DOCTYPE html><html><img src=x onerror=alert(1)></html>",
         "unsupported_format", "HTML"),
        ("type_elf", lambda: ELF, "unsupported_format", "an ELF executable header"),
        ("type_zip", lambda: _zip_bytes({"coffee.jpg": jpeg}), "ok",
         "a ZIP sent to the image endpoint: recognised by content, its members are classified"),
        ("type_eps", lambda: EPS, "unsupported_format",
         "PostScript: Pillow would hand it to Ghostscript; the format list refuses it"),
        ("type_ico", lambda: _encode(photo("chelsea").resize((32, 32)), "ICO"),
         "unsupported_format", "a real ICO: a format Pillow reads, outside the supported list"),
        # odd modes that are valid images, and nothing at all
        ("mode_1bit_png", lambda: _small("PNG", "1"), "ok", "1-bit"),
        ("mode_1bit_tiff_g4", lambda: _small("TIFF", "1", compression="group4"), "ok", "CCITT G4"),
        ("mode_cmyk_tiff", lambda: _small("TIFF", "CMYK"), "ok", "CMYK TIFF"),
        ("mode_i16_png", _gray16_png, "ok", "16-bit grayscale"),
        ("mode_lab_tiff", _lab_tiff, "ok", "CIE L*a*b* TIFF"),
        ("mode_float_tiff", _float_tiff, "ok", "32-bit float TIFF, 0..1"),
        ("mode_int32_tiff", _int32_tiff, "ok", "32-bit integer TIFF"),
        ("mode_ycbcr_jpeg_in_tiff", lambda: _small("TIFF", "RGB", compression="jpeg"), "ok",
         "JPEG-compressed TIFF"),
        ("empty", lambda: b"", "empty_file", "0 bytes"),
    ]
    # fmt: on


def image_cases() -> list[HostileCase]:
    out = []
    for name, build, code, note in _image_specs():
        out.append(HostileCase(
            name, "image", lambda build=build, name=name: upload(CLASSIFY, f"{name}.img", build()),
            200, None, row_code=code, note=note,
        ))  # fmt: skip
    return out


def image_payloads() -> dict[str, tuple[bytes, str]]:
    """name -> (bytes, expected code or "ok"): the image corpus without the HTTP wrapping."""
    return {name: (build(), code) for name, build, code, _ in _image_specs()}


# --- ZIP: a hand-made writer, so every header field can lie ------------------------------------
@dataclass
class Entry:
    """One member as stored: `payload` is the (possibly compressed) data as it lies in the file."""

    name: str
    payload: bytes
    method: int = zipfile.ZIP_STORED
    crc: int | None = None  # default: CRC-32 of payload (right for stored members)
    file_size: int | None = None  # default: len(payload)
    flags: int = 0
    external_attr: int = 0o100644 << 16  # a regular file, rw-r--r--
    central_offset: int | None = None  # where the central directory says the local header is


def deflated(data: bytes, name: str, **kw) -> Entry:
    z = zlib.compressobj(9, zlib.DEFLATED, -15)
    return Entry(
        name,
        z.compress(data) + z.flush(),
        zipfile.ZIP_DEFLATED,
        crc=zlib.crc32(data),
        file_size=len(data),
        **kw,
    )


def stored(data: bytes, name: str, **kw) -> Entry:
    kw.setdefault("crc", zlib.crc32(data))
    return Entry(name, data, **kw)


def zip_of(entries: list[Entry]) -> bytes:
    local, central = b"", b""
    for e in entries:
        name = e.name.encode()
        crc = zlib.crc32(e.payload) if e.crc is None else e.crc
        size = len(e.payload) if e.file_size is None else e.file_size
        fields = struct.pack(
            "<HHHHHIIIHH", 20, e.flags, e.method, 0, 0x21, crc, len(e.payload), size, len(name), 0
        )
        offset = len(local) if e.central_offset is None else e.central_offset
        local += b"PK\x03\x04" + fields + name + e.payload
        central += (
            b"PK\x01\x02"
            + struct.pack("<H", 0x0314)
            + fields
            + struct.pack("<HHHII", 0, 0, 0, e.external_attr, offset)
            + name
        )
    eocd = b"PK\x05\x06" + struct.pack(
        "<HHHHIIH", 0, 0, len(entries), len(entries), len(central), len(local), 0
    )
    return local + central + eocd


def zeros_bomb(gib: float = 1.0) -> Entry:
    """A real ratio bomb: `gib` GiB of zeros deflated to about a thousandth of that, built in a
    fraction of a second by repeating one fully flushed (so self-contained) deflate segment."""
    mib = int(gib * 1024)
    z = zlib.compressobj(9, zlib.DEFLATED, -15)
    segment = z.compress(b"\x00" * (1 << 20)) + z.flush(zlib.Z_FULL_FLUSH)
    payload = segment * mib + b"\x03\x00"  # then an empty final block
    crc = 0
    chunk = b"\x00" * (1 << 20)
    for _ in range(mib):
        crc = zlib.crc32(chunk, crc)
    return Entry("zeros.jpg", payload, zipfile.ZIP_DEFLATED, crc=crc, file_size=mib << 20)


def _low_ratio_block(size: int, seed: int) -> bytes:
    """Data that deflates about 15:1 (under the ratio limit): runs of zeros between random bytes."""
    rng = random.Random(seed)
    return b"".join(bytes([rng.randrange(1, 256)]) + b"\x00" * 63 for _ in range(size // 64))


def _garbage_member(method: int) -> Entry:
    """A member whose compressed stream is seeded noise, with sizes that pass every check."""
    noise = random.Random(method).randbytes(4096)
    header = b"\x09\x04\x05\x00\x5d\x00\x00\x80\x00" if method == zipfile.ZIP_LZMA else b""
    return Entry("noise.jpg", header + noise, method, crc=0, file_size=8192)


def _symlink(target: bytes, name: str) -> Entry:
    return stored(target, name, external_attr=(stat.S_IFLNK | 0o777) << 16)


def _claim_entries(data: bytes, count: int) -> bytes:
    """Rewrite the end-of-central-directory record's two entry counts."""
    at = data.rindex(b"PK\x05\x06")
    return data[: at + 8] + struct.pack("<HH", count, count) + data[at + 12 :]


def _directory_at(data: bytes, offset: int) -> bytes:
    """Rewrite the end record's central-directory offset."""
    at = data.rindex(b"PK\x05\x06")
    return data[: at + 16] + struct.pack("<I", offset) + data[at + 20 :]


def _zip_specs() -> list[tuple[str, Callable[[], bytes], int, str | None, str | None, str]]:
    """(name, build ZIP bytes, status, body code, row code, note)."""
    coffee = real_photo_bytes("coffee")
    ok = stored(coffee, "coffee.jpg")

    def overlapping() -> bytes:
        # the same local header listed twice in the central directory (Fifield's "full overlap")
        return zip_of(
            [stored(coffee, "coffee.jpg"), stored(coffee, "coffee.jpg", central_offset=0)]
        )

    def quoted_overlap() -> bytes:
        # the first member's data runs on over the second member's local header
        first = stored(coffee, "a.jpg")
        second = stored(b"\x00" * 64, "b.jpg")
        data = zip_of([first, second])
        sizes = struct.pack("<II", len(coffee) + 94, len(coffee) + 94)  # swallow b's header
        fix = bytearray(data)
        for at in (18, data.index(b"PK\x01\x02") + 20):
            fix[at : at + 8] = sizes
        return bytes(fix)

    def bad_crc() -> bytes:
        return zip_of([stored(coffee, "damaged.jpg", crc=zlib.crc32(coffee) ^ 0xFFFF), ok])

    def lies_small() -> bytes:
        # declares 1 MB (under the ratio limit) but inflates to 64 MB; the CRC is the real data's
        e = deflated(b"\x00" * (64 << 20), "liar.jpg")
        e.file_size = 1 << 20
        return zip_of([e, ok])

    def lies_big() -> bytes:
        # declares 4 GB uncompressed for a few bytes of data
        e = stored(b"\x00" * 100, "liar.jpg")
        e.file_size = 0xFFFFFFFE
        return zip_of([e, ok])

    def over_total() -> bytes:
        # 24 members of 9 MB each, 15:1: every one within the limits, together 216 MB > 200 MB
        block = deflated(_low_ratio_block(9 << 20, 0), "x")
        return zip_of(
            [
                Entry(f"{i:02d}.jpg", block.payload, block.method, block.crc, block.file_size)
                for i in range(24)
            ]
        )

    def encrypted() -> bytes:
        return zip_of([stored(coffee, "secret.jpg", flags=0x1), ok])

    def unknown_method() -> bytes:
        return zip_of([Entry("deflate64.jpg", coffee, method=9, crc=zlib.crc32(coffee)), ok])

    def nested(kind: str) -> bytes:
        import gzip

        inner = zip_of([ok]) if kind == "zip" else gzip.compress(coffee)
        return zip_of([stored(inner, f"inner.{kind}"), ok])

    def named(name: str) -> bytes:
        return zip_of([stored(coffee, name)])

    big = random.Random(3).randbytes(10 * 1024 * 1024 + 1)
    # fmt: off
    return [
        ("zip_bomb_ratio_1gb", lambda: zip_of([zeros_bomb(1.0), ok]), 200, None,
         "archive_too_large",
         "1 GiB of zeros in ~1 MB: refused by its compression ratio before inflating"),
        ("zip_bomb_count", lambda: zip_of([stored(b"x", f"{i}.jpg") for i in range(1001)]), 413,
         "archive_too_large", None, "1001 members (the limit is 1000)"),
        ("zip_over_total", over_total, 413, "archive_too_large", None,
         "every member within limits, their sum over the 200 MB total"),
        ("zip_header_lies_small", lies_small, 200, None, "corrupt_image",
         "declares 1 MB, inflates to 64 MB: reading stops at the declared size, the CRC fails"),
        ("zip_header_lies_big", lies_big, 200, None, "archive_too_large",
         "declares 4 GB for 100 bytes: refused by ratio"),
        ("zip_member_too_large", lambda: zip_of([stored(big, "big.jpg"), ok]), 200, None,
         "file_too_large", "one stored member over 10 MB"),
        ("zip_nested_zip", lambda: nested("zip"), 200, None, "nested_archive", "a ZIP in a ZIP"),
        ("zip_nested_gzip", lambda: nested("gz"), 200, None, "nested_archive", "a gzip in a ZIP"),
        ("zip_dotdot_name", lambda: named("../../../../tmp/coffee.jpg"), 200, None, "ok",
         "names are labels, never paths"),
        ("zip_absolute_name", lambda: named("/etc/cron.d/coffee.jpg"), 200, None, "ok", "absolute"),
        ("zip_drive_letter_name", lambda: named("C:\\Windows\\System32\\coffee.jpg"), 200, None,
         "ok", "drive letter and backslashes"),
        ("zip_symlink_to_file", lambda: zip_of([_symlink(b"/etc/passwd", "passwd.jpg"), ok]), 200,
         None, "unsupported_format", "a symbolic link to /etc/passwd: never followed"),
        ("zip_symlink_with_image_body", lambda: zip_of([_symlink(coffee, "link.jpg"), ok]), 200,
         None, "unsupported_format", "a link entry is refused whatever its body holds"),
        ("zip_encrypted_member", encrypted, 200, None, "encrypted_member",
         "the encryption flag set on a member (zipfile cannot write encrypted members)"),
        ("zip_bad_crc", bad_crc, 200, None, "corrupt_image", "a member's CRC-32 does not match"),
        ("zip_corrupt_deflate", lambda: zip_of([_garbage_member(zipfile.ZIP_DEFLATED), ok]), 200,
         None, "corrupt_image",
         "a deflated member whose stream is noise (zlib.error once gave a 500 here)"),
        ("zip_corrupt_lzma", lambda: zip_of([_garbage_member(zipfile.ZIP_LZMA), ok]), 200, None,
         "corrupt_image", "an LZMA member whose stream is noise"),
        ("zip_corrupt_bzip2", lambda: zip_of([_garbage_member(zipfile.ZIP_BZIP2), ok]), 200, None,
         "corrupt_image", "a bzip2 member whose stream is noise"),
        ("zip_unknown_method", unknown_method, 200, None, "corrupt_image",
         "compression method 9 (Deflate64), which zipfile cannot read"),
        ("zip_overlapping_entries", overlapping, 400, "invalid_archive", None,
         "two central-directory entries share one local header"),
        ("zip_quoted_overlap", quoted_overlap, 400, "invalid_archive", None,
         "a member's data covers the next member's local header"),
        ("zip_image_bomb_member", lambda: zip_of([stored(huge_dimensions_png(), "bomb.png"), ok]),
         200, None, "image_too_large", "a pixel bomb inside a ZIP"),
        ("zip_not_a_zip", lambda: b"PK this is not a zip", 400, "invalid_archive", None, ""),
        ("zip_truncated", lambda: zip_of([ok])[:5000], 400, "invalid_archive", None,
         "cut before the central directory"),
        ("zip_lies_about_count", lambda: _claim_entries(zip_of([ok]), 50), 200, None, "ok",
         "the end record claims 50 entries; the directory, which is what is read, holds 1"),
        ("zip_directory_offset_lies",
         lambda: _directory_at(zip_of([stored(coffee, "moved.jpg")]), 1 << 30), 200, None,
         "corrupt_image",
         "the end record puts the central directory 1 GB on: zipfile finds the "
         "directory anyway, but every member's offset is then wrong, so each row fails"),
        ("zip_empty", lambda: zip_of([]), 400, "empty_file", None, "no members at all"),
    ]
    # fmt: on


def zip_cases() -> list[HostileCase]:
    return [
        HostileCase(
            name,
            "zip",
            lambda build=build, name=name: upload(ZIP, f"{name}.zip", build()),
            status,
            code,
            row_code=row,
            note=note,
        )
        for name, build, status, code, row, note in _zip_specs()
    ]


def zip_payloads() -> dict[str, bytes]:
    return {name: build() for name, build, *_ in _zip_specs()}


# --- HTTP and multipart: limits enforced as the bytes arrive (server/guards/body.py) ----------------
KB = 1024
MB = 1024 * 1024
# The hostile server runs with these (short) slow-client deadlines; every size limit is default.
SLOW_CLIENT_SETTINGS = {"header_timeout_s": 1.0, "body_timeout_s": 1.5}


def _head(path: str, headers: list[tuple[str, str]], method: str = "POST") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


MULTIPART_TYPE = ("Content-Type", f"multipart/form-data; boundary={BOUNDARY}")


def _file_part_head(filename: str = "big.jpg") -> bytes:
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"'
        "\r\n\r\n"
    ).encode()


def _zeros(n: int, chunk: int = 1 << 16):
    while n > 0:
        yield b"\x00" * min(chunk, n)
        n -= chunk


def _chunked(n: int, chunk: int = 1 << 16):
    """`n` bytes in chunked transfer coding: a multipart file part head, then zeros."""
    first = _file_part_head()
    yield f"{len(first):x}\r\n".encode() + first + b"\r\n"
    for piece in _zeros(n, chunk):
        yield f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    yield b"0\r\n\r\n"


def _declared_huge(path: str, declared: int):
    def drive(host, port):
        head = _head(path, [MULTIPART_TYPE, ("Content-Length", str(declared))])
        return stream(host, port, head, _prefixed(_file_part_head(), _zeros(declared)), declared)

    return drive


def _prefixed(first: bytes, rest):
    yield first
    yield from rest


def _chunked_huge(path: str, size: int):
    def drive(host, port):
        head = _head(path, [MULTIPART_TYPE, ("Transfer-Encoding", "chunked")])
        return stream(host, port, head, _chunked(size), size)

    return drive


def _epilogue_stuffing(host, port):
    form = multipart([("file", "coffee.jpg", real_photo_bytes("coffee"))])
    head = _head(PREDICT, [MULTIPART_TYPE, ("Transfer-Encoding", "chunked")])
    pieces = _prefixed(form, _zeros(1 << 30))
    chunks = (f"{len(p):x}\r\n".encode() + p + b"\r\n" for p in pieces)
    return stream(host, port, head, chunks, 1 << 30)


def _slow_head(host, port):
    """Slowloris: a request line and one header, then nothing."""
    head = b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    return stream(host, port, head, [], 0, pause=SLOW_CLIENT_SETTINGS["header_timeout_s"] + 10)


def _slow_body(host, port):
    """A whole head promising 100 KB, 100 bytes of body, then nothing."""
    head = _head(PREDICT, [MULTIPART_TYPE, ("Content-Length", "100000")])
    body = [_file_part_head() + b"\x00" * 100]
    return stream(
        host, port, head, body, 100_000, pause=SLOW_CLIENT_SETTINGS["body_timeout_s"] + 10
    )


def _raw(data: bytes):
    """Bytes that are not (quite) HTTP, sent as they are."""

    def drive(host, port):
        return stream(host, port, data, [], 0, pause=10)

    return drive


def _many_parts(n: int, files: bool) -> Request:
    parts = [
        ("file" if files else f"field{i}", f"{i}.jpg" if files else None, b"x") for i in range(n)
    ]
    return form_request(CLASSIFY, parts)


def _http_specs() -> list[tuple]:
    """(name, build_request or None, drive or None, status, code, row code, early, note)."""
    coffee = real_photo_bytes("coffee")
    big_image = b"\xff\xd8\xff" + b"\x00" * (10 * MB)  # one byte over 10 MB
    form = multipart([("file", "coffee.jpg", coffee)])
    nameless = (f"--{BOUNDARY}\r\nContent-Disposition: form-data\r\n\r\n".encode() + coffee
                + f"\r\n--{BOUNDARY}--\r\n".encode())  # fmt: skip
    both = b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    chunked = _head(CLASSIFY, [MULTIPART_TYPE, ("Transfer-Encoding", "chunked")])

    def post(content_type: str, body: bytes) -> Request:
        return Request("POST", CLASSIFY, [("Content-Type", content_type)], body)

    # fmt: off
    return [
        ("too_many_file_parts", lambda: _many_parts(65, True), None, 413, "too_many_parts", None,
         False, "65 files (the limit is 64 parts)"),
        ("too_many_field_parts", lambda: _many_parts(65, False), None, 413, "too_many_parts", None,
         False, "65 text fields"),
        ("huge_form_field",
         lambda: form_request(CLASSIFY, [("note", None, b"a" * 65 * KB), ("file", "c", coffee)]),
         None, 413, "field_too_large", None, False, "a 65 KB text field (the limit is 64 KB)"),
        ("missing_boundary",
         lambda: post("multipart/form-data", form),
         None, 400, "invalid_multipart", None, False, "Content-Type without a boundary"),
        ("wrong_boundary",
         lambda: post(MULTIPART_TYPE[1], multipart([("file", "c.jpg", coffee)], "another")),
         None, 400, "invalid_multipart", None, False, "the body uses a different boundary"),
        ("multipart_cut_off",
         lambda: post(MULTIPART_TYPE[1], form[:-40]),
         None, 400, "invalid_multipart", None, False, "no closing boundary"),
        ("part_without_name",
         lambda: post(MULTIPART_TYPE[1], nameless),
         None, 400, "invalid_multipart", None, False, "a part with no name"),
        ("not_multipart",
         lambda: post("application/json", b'{"file": "coffee.jpg"}'),
         None, 422, "no_file", None, False, "JSON where a form is expected"),
        ("empty_body", lambda: post(MULTIPART_TYPE[1], b""), None, 422,
         "no_file", None, False, "a multipart Content-Type and no body"),
        ("oversize_declared_predict", None, _declared_huge(PREDICT, 1 << 30), 413,
         "payload_too_large", None, True,
         "Content-Length: 1 GB to /predict: refused from the head"),
        ("oversize_declared_zip", None, _declared_huge(ZIP, 201 * MB), 413, "payload_too_large",
         None, True, "a 201 MB ZIP upload declared"),
        ("oversize_chunked_predict", None, _chunked_huge(PREDICT, 1 << 30), 413,
         ("file_too_large", "payload_too_large"), None, True,
         "1 GB chunked, no Content-Length: cut off as the file passes 10 MB, or the body "
         "10 MB + framing (which comes first depends on how the bytes are split into reads)"),
        ("oversize_chunked_epilogue", None, _epilogue_stuffing, 413, "payload_too_large", None,
         True,
         "a small, complete form, then 1 GB after its closing boundary, chunked: the body "
         "is cut off as it passes the request limit"),
        ("oversize_chunked_classify", None, _chunked_huge(CLASSIFY, 1 << 30), 413, "file_too_large",
         None, True, "1 GB chunked to the multi-image endpoint: the file part passes 10 MB"),
        ("oversize_file_honest_length", lambda: upload(PREDICT, "big.jpg", big_image), None, 413,
         "file_too_large", None, False, "a 10 MB + 1 byte image with a true Content-Length"),
        ("oversize_file_in_classify", lambda: upload(CLASSIFY, "big.jpg", big_image), None, 413,
         "file_too_large", None, False, "the same to /api/v1/classify"),
        ("headers_too_large", lambda: Request("GET", "/healthz", [("X-Pad", "a" * 20_000)], b""),
         None, 431, "headers_too_large", None, False, "one 20 KB header"),
        ("too_many_headers",
         lambda: Request("GET", "/healthz", [(f"X-H{i}", "v" * 30) for i in range(600)], b""), None,
         431, "headers_too_large", None, False, "600 headers"),
        ("url_too_long", lambda: Request("GET", "/healthz?" + "a" * 20_000, [], b""), None, 431,
         "headers_too_large", None, False, "a 20 KB request line"),
        ("slowloris_head", None, _slow_head, 408, "request_timeout", None, False,
         "half a head, then silence"),
        ("slow_body", None, _slow_body, 408, "request_timeout", None, False,
         "100 of 100,000 promised bytes, then silence"),
        ("bad_content_length", None,
         _raw(b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: abc\r\n\r\n"), 400,
         "bad_request", None, False, "Content-Length: abc"),
        ("length_and_chunked", None,
         _raw(b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\n" + both),
         422, "no_file", None, False,
         "both framings (a request-smuggling shape): as RFC 9112 "
         "says, Transfer-Encoding wins, so the body is the empty chunked one"),
        ("bad_chunk_size", None,
         _raw(chunked + b"zz\r\nhello\r\n0\r\n\r\n"),
         400, "bad_request", None, False, "a chunk size that is not hex"),
        ("garbage_request_line", None,
         _raw(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n"), 400, "bad_request", None,
         False, "a TLS ClientHello sent to the HTTP port"),
        ("unknown_method", lambda: Request("BREW", PREDICT, [], b""), None, 405,
         "method_not_allowed", None, False, "BREW /predict"),
        ("path_traversal_url", lambda: Request("GET", "/static/../../../../etc/passwd", [], b""),
         None, 404, "not_found", None, False, "dot-dot in the URL"),
        ("encoded_traversal_url",
         lambda: Request("GET", "/static/..%2f..%2f..%2fetc%2fpasswd", [], b""), None, 404,
         "not_found", None, False, "percent-encoded dot-dot"),
        ("traversal_filename", lambda: upload(CLASSIFY, "../../../../etc/passwd", coffee), None,
         200, None, "ok", False, "a part's filename is a label, never a path"),
        ("negative_top_k", lambda: upload(CLASSIFY + "?top_k=-1", "c.jpg", coffee), None, 422,
         "invalid_argument", None, False, "top_k=-1"),
        ("huge_top_k", lambda: upload(CLASSIFY + "?top_k=99999999999999999999", "c.jpg", coffee),
         None, 200, None, "ok", False, "top_k past 64 bits: as many labels as the model has"),
        ("unknown_format", lambda: upload(CLASSIFY + "?format=xml", "c.jpg", coffee), None, 422,
         "invalid_argument", None, False, "format=xml"),
        # what SQLite stores as given and PostgreSQL refuses: recorded alike on both (history.py)
        ("nul_in_filename", lambda: upload(CLASSIFY, "a\x00b.jpg", coffee), None, 200, None, "ok",
         False, "a NUL in a part's filename: the image is answered and recorded"),
        ("long_filename", lambda: upload(CLASSIFY, "x" * 4000 + ".jpg", coffee), None, 200, None,
         "ok", False, "a 4,000-character filename (the history keeps 512)"),
        ("nul_in_history_search", lambda: Request("GET", "/api/v1/history?label=%00&filename=%00",
         [], b""), None, 200, None, None, False, "a NUL in a history search"),
    ]
    # fmt: on


def http_cases() -> list[HostileCase]:
    return [
        HostileCase(
            name, "http", build, status, code, row_code=row, drive=drive, note=note, early=early
        )
        for name, build, drive, status, code, row, early, note in _http_specs()
    ]


# --- auth: a server with auth on (server/guards/gate.py) -----------------------------------------------
@dataclass(frozen=True)
class AuthContext:
    """Credentials made for the auth server: auth cases build their requests from these."""

    key: str  # a valid API key
    revoked_key: str
    removed_user_key: str  # the key of a user who has since been removed
    session: str  # a valid signed session cookie (from a real sign-in)
    csrf: str  # that session's CSRF token

    def bearer(self, key: str | None = None) -> tuple[str, str]:
        return ("Authorization", f"Bearer {key or self.key}")


SESSION_COOKIE = "localvision_session"
FORM_TYPE = ("Content-Type", "application/x-www-form-urlencoded")


def _coffee_with(*headers: tuple[str, str], path: str = CLASSIFY) -> Request:
    return upload(path, "coffee.jpg", real_photo_bytes("coffee"), headers=headers)


def _with_cookie(value: str, *more: tuple[str, str]) -> Request:
    return _coffee_with(("Cookie", f"{SESSION_COOKIE}={value}"), *more)


def _tamper(signed: str, part: int) -> str:
    """Flip the last characters of one dot-separated part of an itsdangerous token."""
    pieces = signed.split(".")
    tail = "AA" if not pieces[part].endswith("AA") else "BB"
    pieces[part] = pieces[part][:-2] + tail
    return ".".join(pieces)


def _foreign_cookie() -> str:
    """A well-formed session cookie signed with some other server's secret."""
    from itsdangerous import URLSafeTimedSerializer

    return URLSafeTimedSerializer("another-servers-secret", salt="localvision.cookie").dumps(
        "x" * 22
    )


def _unauthenticated_upload(host, port):
    """100 MB declared (within the ZIP limit) and no credentials: refused from the head."""
    size = 100 * MB
    head = _head(ZIP, [MULTIPART_TYPE, ("Content-Length", str(size))])
    return stream(host, port, head, _prefixed(_file_part_head("b.zip"), _zeros(size)), size)


def _auth_specs() -> list[tuple]:
    """(name, build_request(ctx) or None, drive or None, status, code, early, note)."""
    # fmt: off
    return [
        ("no_credentials", lambda ctx: _coffee_with(), None, 401, "unauthorized", False,
         "no key, no cookie"),
        ("wrong_key", lambda ctx: _coffee_with(ctx.bearer("lv_" + "A" * 43)), None, 401,
         "unauthorized", False, "a well-formed key that was never issued"),
        ("revoked_key", lambda ctx: _coffee_with(ctx.bearer(ctx.revoked_key)), None, 401,
         "unauthorized", False, "a key revoked with `localvision keys revoke`"),
        ("removed_users_key", lambda ctx: _coffee_with(ctx.bearer(ctx.removed_user_key)), None, 401,
         "unauthorized", False, "the key of a user removed since"),
        ("key_one_char_off",
         lambda ctx: _coffee_with(ctx.bearer(ctx.key[:-1] + ("A" if ctx.key[-1] != "A" else "B"))),
         None, 401, "unauthorized", False, "a valid key with its last character changed"),
        ("key_with_suffix", lambda ctx: _coffee_with(ctx.bearer(ctx.key + "x")), None, 401,
         "unauthorized", False, "a valid key with a character appended"),
        ("basic_scheme", lambda ctx: _coffee_with(("Authorization", "Basic YWRhOmFkYQ==")), None,
         401, "unauthorized", False, "HTTP Basic instead of Bearer"),
        ("empty_bearer", lambda ctx: _coffee_with(("Authorization", "Bearer ")), None, 401,
         "unauthorized", False, "Bearer and nothing"),
        ("sql_in_key", lambda ctx: _coffee_with(ctx.bearer("' OR '1'='1' --")), None, 401,
         "unauthorized", False, "SQL in the key"),
        ("key_in_query", lambda ctx: _coffee_with(path=f"{CLASSIFY}?api_key={ctx.key}"), None, 401,
         "unauthorized", False, "keys are taken from the Authorization header only"),
        ("tampered_cookie_payload", lambda ctx: _with_cookie(_tamper(ctx.session, 0)), None, 401,
         "unauthorized", False, "the signed session's payload changed"),
        ("tampered_cookie_signature", lambda ctx: _with_cookie(_tamper(ctx.session, -1)), None, 401,
         "unauthorized", False, "the signature changed"),
        ("garbage_cookie", lambda ctx: _with_cookie("not-a-session"), None, 401, "unauthorized",
         False, "not a signed value at all"),
        ("foreign_cookie", lambda ctx: _with_cookie(_foreign_cookie()), None, 401,
         "unauthorized", False, "signed with another server's secret"),
        ("cookie_without_csrf", lambda ctx: _with_cookie(ctx.session), None, 403, "csrf_failed",
         False, "a real session, but a POST without X-CSRF-Token (what a cross-site form sends)"),
        ("cookie_wrong_csrf", lambda ctx: _with_cookie(ctx.session, ("X-CSRF-Token", "guess")),
         None, 403, "csrf_failed", False, "a guessed CSRF token"),
        ("metrics_without_key", lambda ctx: Request("GET", "/metrics", [], b""), None, 401,
         "unauthorized", False, "/metrics sits behind auth"),
        ("docs_without_key", lambda ctx: Request("GET", "/openapi.json", [], b""), None, 401,
         "unauthorized", False, "the API schema sits behind auth"),
        ("history_without_key", lambda ctx: Request("GET", "/api/v1/history", [], b""), None, 401,
         "unauthorized", False, "history"),
        ("login_without_form_token",
         lambda ctx: Request("POST", "/login", [FORM_TYPE], b"username=ada&password=whatever"),
         None, 403, "csrf_failed", False, "a sign-in POST without the form's token (login CSRF)"),
        ("unauthenticated_upload", None, _unauthenticated_upload, 401, "unauthorized", True,
         "a 100 MB upload without credentials is refused before its body is read"),
    ]
    # fmt: on


def auth_cases() -> list[HostileCase]:
    return [
        HostileCase(
            f"auth_{name}", "auth", build, status, code, drive=drive, note=note, early=early
        )
        for name, build, drive, status, code, early, note in _auth_specs()
    ]


# --- everything ---------------------------------------------------------------------------------
def hostile_cases() -> list[HostileCase]:
    return image_cases() + zip_cases() + http_cases() + auth_cases()


def cases_by_family(family: str) -> list[HostileCase]:
    return [c for c in hostile_cases() if c.family == family]
