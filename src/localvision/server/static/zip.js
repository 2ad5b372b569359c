/* localvision: read one member of a ZIP the browser already holds (the file the user chose), so
 * the results table can show ZIP members' thumbnails without asking the server for anything.
 *
 * Only what that needs: the central directory (names, methods, sizes, offsets; ZIP64 too), then
 * one member's bytes, stored ones as they are, deflated ones through the browser's own
 * DecompressionStream("deflate-raw"). Anything else (another method, encryption, a damaged
 * archive) is "no thumbnail" for the caller, never more: the server has already said what each
 * member is. Names are decoded as Python's zipfile decodes them (UTF-8 when flagged, else code
 * page 437), so they match the names the server reports.
 */
"use strict";

(function () {
  const SIG = { eocd: 0x06054b50, eocd64: 0x06064b50, locator64: 0x07064b50,
    central: 0x02014b50, local: 0x04034b50 };
  const EOCD_SIZE = 22;
  const MAX_COMMENT = 0xffff;
  const STORED = 0;
  const DEFLATED = 8;
  // A member larger than this is not turned into a thumbnail (the server's own limit is lower).
  const MAX_MEMBER = 64 * 1024 * 1024;
  const CP437_HIGH = "\xc7\xfc\xe9\xe2\xe4\xe0\xe5\xe7\xea\xeb\xe8\xef\xee\xec\xc4\xc5\xc9\xe6\xc6\xf4\xf6\xf2\xfb\xf9\xff\xd6\xdc\xa2\xa3\xa5\u20a7\u0192\xe1\xed\xf3\xfa\xf1\xd1\xaa\xba\xbf\u2310\xac\xbd\xbc\xa1\xab\xbb\u2591\u2592\u2593\u2502\u2524\u2561\u2562\u2556\u2555\u2563\u2551\u2557\u255d\u255c\u255b\u2510\u2514\u2534\u252c\u251c\u2500\u253c\u255e\u255f\u255a\u2554\u2569\u2566\u2560\u2550\u256c\u2567\u2568\u2564\u2565\u2559\u2558\u2552\u2553\u256b\u256a\u2518\u250c\u2588\u2584\u258c\u2590\u2580\u03b1\xdf\u0393\u03c0\u03a3\u03c3\xb5\u03c4\u03a6\u0398\u03a9\u03b4\u221e\u03c6\u03b5\u2229\u2261\xb1\u2265\u2264\u2320\u2321\xf7\u2248\xb0\u2219\xb7\u221a\u207f\xb2\u25a0\xa0";
  const utf8 = new TextDecoder("utf-8");

  class ZipError extends Error {}

  async function view(blob, start, end) {
    return new DataView(await blob.slice(start, end).arrayBuffer());
  }

  function u64(dv, at) {
    // Offsets and sizes of the ZIPs a browser can hold fit in a double exactly.
    return dv.getUint32(at, true) + dv.getUint32(at + 4, true) * 0x100000000;
  }

  function decodeName(bytes, isUtf8) {
    if (isUtf8) return utf8.decode(bytes);
    let out = "";
    for (const b of bytes) out += b < 0x80 ? String.fromCharCode(b) : CP437_HIGH[b - 0x80];
    return out;
  }

  /** Where the central directory is: {offset, size, count, shift}. */
  async function directory(blob) {
    const tailStart = Math.max(0, blob.size - EOCD_SIZE - MAX_COMMENT);
    const tail = await view(blob, tailStart, blob.size);
    let at = -1;
    for (let i = tail.byteLength - EOCD_SIZE; i >= 0; i--) {
      if (tail.getUint32(i, true) === SIG.eocd) { at = i; break; }
    }
    if (at < 0) throw new ZipError("no end of central directory");
    const eocdPos = tailStart + at;
    let count = tail.getUint16(at + 10, true);
    let size = tail.getUint32(at + 12, true);
    let offset = tail.getUint32(at + 16, true);
    let recordsStart = eocdPos;
    if (eocdPos >= 20) {
      const loc = await view(blob, eocdPos - 20, eocdPos);
      if (loc.getUint32(0, true) === SIG.locator64) {
        const pos = u64(loc, 8);
        const rec = await view(blob, pos, pos + 56);
        if (rec.getUint32(0, true) !== SIG.eocd64) throw new ZipError("bad ZIP64 record");
        count = u64(rec, 32);
        size = u64(rec, 40);
        offset = u64(rec, 48);
        recordsStart = eocdPos - 20 - 56;
      }
    }
    // Bytes in front of the archive (a self-extractor's stub) shift every offset, as in
    // Python's zipfile.
    const shift = Math.max(0, recordsStart - size - offset);
    return { offset: offset + shift, size, count, shift };
  }

  function zip64Extra(dv, start, length, entry, raw) {
    for (let at = start; at + 4 <= start + length;) {
      const id = dv.getUint16(at, true);
      const len = dv.getUint16(at + 2, true);
      if (id === 0x0001) {
        let p = at + 4;
        const take = () => { const v = u64(dv, p); p += 8; return v; };
        if (raw.size === 0xffffffff) entry.size = take();
        if (raw.compressedSize === 0xffffffff) entry.compressedSize = take();
        if (raw.offset === 0xffffffff) entry.offset = take();
        return;
      }
      at += 4 + len;
    }
  }

  /** Every entry of the central directory, in its order:
   * [{name, method, size, compressedSize, offset, encrypted, directory}]. */
  async function entries(blob) {
    const dir = await directory(blob);
    const dv = await view(blob, dir.offset, dir.offset + dir.size);
    const out = [];
    let at = 0;
    while (at + 46 <= dv.byteLength && out.length < dir.count) {
      if (dv.getUint32(at, true) !== SIG.central) throw new ZipError("bad central directory");
      const flags = dv.getUint16(at + 8, true);
      const nameLen = dv.getUint16(at + 28, true);
      const extraLen = dv.getUint16(at + 30, true);
      const commentLen = dv.getUint16(at + 32, true);
      const raw = {
        compressedSize: dv.getUint32(at + 20, true),
        size: dv.getUint32(at + 24, true),
        offset: dv.getUint32(at + 42, true),
      };
      const nameBytes = new Uint8Array(dv.buffer, dv.byteOffset + at + 46, nameLen);
      const entry = {
        name: decodeName(nameBytes, Boolean(flags & 0x800)),
        method: dv.getUint16(at + 10, true),
        encrypted: Boolean(flags & 0x1),
        ...raw,
      };
      zip64Extra(dv, at + 46 + nameLen, extraLen, entry, raw);
      entry.offset += dir.shift;
      entry.directory = entry.name.endsWith("/");
      out.push(entry);
      at += 46 + nameLen + extraLen + commentLen;
    }
    return out;
  }

  /** One member's bytes as a Blob of ; throws ZipError for what cannot be read here. */
  async function read(blob, entry, type) {
    if (entry.encrypted || entry.directory || entry.size > MAX_MEMBER) {
      throw new ZipError("not readable here");
    }
    const head = await view(blob, entry.offset, entry.offset + 30);
    if (head.getUint32(0, true) !== SIG.local) throw new ZipError("bad local header");
    const start = entry.offset + 30 + head.getUint16(26, true) + head.getUint16(28, true);
    const raw = blob.slice(start, start + entry.compressedSize, type);
    if (entry.method === STORED) return raw;
    if (entry.method !== DEFLATED) throw new ZipError(`compression method ${entry.method}`);
    const inflated = raw.stream().pipeThrough(new DecompressionStream("deflate-raw"));
    const out = await new Response(inflated).blob();
    return type ? out.slice(0, out.size, type) : out;
  }

  window.localvisionZip = { entries, read, ZipError };
})();
