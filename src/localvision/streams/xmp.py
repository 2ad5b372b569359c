"""XMP sidecars (`--write-xmp`): the labels as keywords next to each photo, and with --text the
text read in it as its description, merged into what is there, so digiKam, darktable and
Lightroom show them.

    dc:subject               every keyword, flat (a grouped label's group too, as Lightroom does)
    lr:hierarchicalSubject   "group|label" for a label in a group (dog|golden retriever), else
                             "label"; digiKam and Lightroom build their keyword trees from it
    dc:description           with --text: the lines read in the photo, one per line, as the
                             x-default entry of its rdf:Alt (the caption or description that
                             digiKam, Lightroom, darktable and exiftool show)
    localvision:*            the model (classifier), and what localvision added (addedSubject,
                             addedHierarchicalSubject, addedDescription), so a rerun replaces
                             its own and never touches anyone else's; named so that no reader
                             mistakes them for dc:subject or a camera's Model

Which labels: those at least min_confidence probable (an answer that is "not sure" claims no
keyword), in the chosen language. A description is written only where none is there (or the
one there is empty) or where the one there is still exactly what localvision wrote last time
(localvision:addedDescription): a person's caption, or ours once a person has edited it, is
theirs and stays. A photo with no text read (or read without --text) leaves it alone.

The file is `photo.jpg.xmp` by default (darktable's and digiKam's default: one sidecar per file,
so photo.jpg and photo.cr2 of a RAW+JPEG pair never share one); `photo.xmp` is Lightroom's and
Capture One's form (settings: xmp_sidecar). Written with the standard library's ElementTree
(namespaces, comments and every other field of an existing sidecar kept), then atomically: a
temporary file in the same folder, fsync, rename over the old one, so a reader or a crash never
sees half a sidecar.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from ..errors import SidecarFailed
from ..files import atomic_write
from ..models.groups import group_map

X = "adobe:ns:meta/"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
DC = "http://purl.org/dc/elements/1.1/"
LR = "http://ns.adobe.com/lightroom/1.0/"
XML = "http://www.w3.org/XML/1998/namespace"  # xml:lang
LV = "http://ns.localvision.invalid/xmp/1.0/"  # ours; .invalid: a name no one else can own
PREFIXES = {"x": X, "rdf": RDF, "dc": DC, "lr": LR, "localvision": LV}
PACKET = ('<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n', '\n<?xpacket end="w"?>\n')
SIDECARS = {
    "photo.jpg.xmp": lambda name: f"{name}.xmp",
    "photo.xmp": lambda name: f"{Path(name).stem}.xmp",
}


def sidecar_name(image_name: str, form: str) -> str:
    """The sidecar's file name for an image's, in the form chosen (settings.xmp_sidecar)."""
    return SIDECARS[form](image_name)


def keywords(result, spec, lang: str, floor: float) -> tuple[list[str], list[str]]:
    """(dc:subject, lr:hierarchicalSubject) for an answer: the labels at least `floor` probable
    (in the answer's language, `lang`), each with its group where it has one."""
    groups = group_map(spec.groups) if spec.groups else ()
    group_of = {int(i): g for g in groups for i in g.members}
    flat: list[str] = []
    tree: list[str] = []
    for p in result.predictions:
        if result.uncertain or p.probability < floor:
            continue
        label = p.label.replace("|", "/")  # "|" separates the levels of a hierarchical subject
        g = group_of.get(p.index)
        if g is not None:
            name = g.names.get(lang, g.names["en"]).replace("|", "/")
            flat += [name, label]
            tree.append(f"{name}|{label}")
        else:
            flat.append(label)
            tree.append(label)
    return _unique(flat), _unique(tree)


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


# --- reading and merging ------------------------------------------------------------------------
def _read(path: Path) -> ET.Element:
    """An existing sidecar's root element, its namespace prefixes kept for the rewrite."""
    try:
        text = path.read_bytes()
        for _, (prefix, uri) in ET.iterparse(path, events=("start-ns",)):
            if prefix and not re.fullmatch(r"ns\d+", prefix):
                ET.register_namespace(prefix, uri)
        parser = ET.XMLParser(target=ET.TreeBuilder(insert_comments=True))
        parser.feed(text)
        return parser.close()
    except ET.ParseError as exc:
        raise SidecarFailed(
            f"{path} is not a readable XMP file ({exc}); it was left as it is."
        ) from None
    except OSError as exc:
        raise SidecarFailed(f"Could not read {path}: {exc.strerror or exc}.") from None


def _new() -> ET.Element:
    root = ET.Element(f"{{{X}}}xmpmeta", {f"{{{X}}}xmptk": "localvision"})
    rdf = ET.SubElement(root, f"{{{RDF}}}RDF")
    ET.SubElement(rdf, f"{{{RDF}}}Description", {f"{{{RDF}}}about": ""})
    return root


def _descriptions(root: ET.Element) -> list[ET.Element]:
    found = list(root.iter(f"{{{RDF}}}Description"))
    if found:
        return found
    rdf = root if root.tag == f"{{{RDF}}}RDF" else root.find(f".//{{{RDF}}}RDF")
    if rdf is None:
        raise SidecarFailed("The XMP file has no rdf:RDF element; it was left as it is.")
    return [ET.SubElement(rdf, f"{{{RDF}}}Description", {f"{{{RDF}}}about": ""})]


def _bag(descriptions: list[ET.Element], tag: str) -> tuple[ET.Element | None, list[str]]:
    """The property `tag` (an rdf:Bag, or a Seq some writers use) and its items' text."""
    for d in descriptions:
        prop = d.find(tag)
        if prop is not None:
            items = [li.text or "" for li in prop.iter(f"{{{RDF}}}li")]
            return prop, items
    return None, []


def _set_bag(descriptions: list[ET.Element], tag: str, items: list[str]) -> None:
    """Replace the property `tag` with a Bag of `items` (in place; removed when empty)."""
    prop, _ = _bag(descriptions, tag)
    holder = next((d for d in descriptions if prop is not None and prop in list(d)), None)
    if prop is None:
        if not items:
            return
        holder = descriptions[0]
        prop = ET.SubElement(holder, tag)
    if not items:
        holder.remove(prop)
        return
    tail = prop.tail
    prop.clear()
    prop.tail = tail
    bag = ET.SubElement(prop, f"{{{RDF}}}Bag")
    for text in items:
        ET.SubElement(bag, f"{{{RDF}}}li").text = text


def merge(root: ET.Element, flat: list[str], tree: list[str], model: str,
          text: str | None = None) -> ET.Element:  # fmt: skip
    """Our keywords and text into a sidecar's tree. No keywords (a "not sure" answer): the
    keywords are left as they are; no text (None or ""): the description is."""
    descriptions = _descriptions(root)
    if flat:
        _merge_keywords(descriptions, flat, tree, model)
    text = xml_text(text or "")
    if text.strip():
        _merge_description(descriptions, text)
    return root


def _merge_keywords(descriptions: list[ET.Element], flat: list[str], tree: list[str],
                    model: str) -> None:  # fmt: skip
    """The keywords localvision added last time (recorded under localvision:) are replaced;
    everyone else's stay, in their order, never doubled."""
    pairs = (
        (f"{{{DC}}}subject", f"{{{LV}}}addedSubject", flat),
        (f"{{{LR}}}hierarchicalSubject", f"{{{LV}}}addedHierarchicalSubject", tree),
    )
    for tag, ours_tag, new in pairs:
        _, present = _bag(descriptions, tag)
        _, ours_before = _bag(descriptions, ours_tag)
        others = [t for t in present if t not in ours_before]
        added = [t for t in new if t not in others]
        _set_bag(descriptions, tag, others + added)
        _set_bag(descriptions, ours_tag, added)
    holder = descriptions[0]
    found = holder.find(f"{{{LV}}}classifier")
    if found is None:
        found = ET.SubElement(holder, f"{{{LV}}}classifier")
    found.text = model


def _merge_description(descriptions: list[ET.Element], text: str) -> None:
    """`text` as dc:description's x-default, where the description is free or still ours (see
    the module's docstring); where it is someone's, it stays and our record of it goes."""
    ours_tag = f"{{{LV}}}addedDescription"
    record = next((r for d in descriptions if (r := d.find(ours_tag)) is not None), None)
    prop, default = _description(descriptions)
    whose = _whose(descriptions, prop, default, record)
    if whose == "theirs":
        if record is not None:
            _remove(descriptions, record)
        return
    if whose == "free":
        if prop is None:
            prop = ET.SubElement(descriptions[0], f"{{{DC}}}description")
        tail = prop.tail
        prop.clear()
        prop.tail = tail
        alt = ET.SubElement(prop, f"{{{RDF}}}Alt")
        default = ET.SubElement(alt, f"{{{RDF}}}li", {f"{{{XML}}}lang": "x-default"})
    default.text = text  # ours: the other languages' entries, if any, stay
    if record is None:
        record = ET.SubElement(descriptions[0], ours_tag)
    record.text = text


def _whose(descriptions, prop, default, record) -> str:
    """"free" (no description, or an empty one), "ours" (still exactly what we wrote last
    time) or "theirs"."""
    if any(d.get(f"{{{DC}}}description") for d in descriptions):
        return "theirs"  # written as an attribute, not an rdf:Alt: someone else's form, kept
    if prop is None or not any((li.text or "").strip() for li in prop.iter(f"{{{RDF}}}li")):
        return "free"
    if record is not None and default is not None and default.text == record.text:
        return "ours"
    return "theirs"


def _description(descriptions: list[ET.Element]) -> tuple[ET.Element | None, ET.Element | None]:
    """dc:description and its x-default entry (the first entry where none says x-default)."""
    for d in descriptions:
        prop = d.find(f"{{{DC}}}description")
        if prop is not None:
            items = list(prop.iter(f"{{{RDF}}}li"))
            default = next((li for li in items if li.get(f"{{{XML}}}lang") == "x-default"),
                           items[0] if items else None)  # fmt: skip
            return prop, default
    return None, None


def _remove(descriptions: list[ET.Element], element: ET.Element) -> None:
    for d in descriptions:
        if element in list(d):
            d.remove(element)


# Characters XML 1.0 cannot hold at all (escaping does not help): C0 controls but tab and
# newline, lone surrogates (no UTF-8 for them) and the two non-characters; a stray one from a
# reader must not break the sidecar.
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(text: str) -> str:
    """`text` as an XML element's text can hold it and read it back the same: carriage returns
    as newlines (a parser turns them into newlines anyway), no character XML forbids. &, < and
    > are escaped by the writer."""
    return _NOT_XML.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def write(image: Path, flat: list[str], tree: list[str], model: str, form: str,
          text: str | None = None) -> Path:  # fmt: skip
    """Merge the keywords (and the text read, if any) into the image's sidecar (made if
    missing), atomically."""
    path = image.with_name(sidecar_name(image.name, form))
    for prefix, uri in PREFIXES.items():
        ET.register_namespace(prefix, uri)
    root = merge(_read(path) if path.exists() else _new(), flat, tree, model, text)
    ET.indent(root, space=" ")
    body = ET.tostring(root, encoding="unicode")
    _atomic_write(path, (PACKET[0] + body + PACKET[1]).encode("utf-8"))
    return path


def _atomic_write(path: Path, data: bytes) -> None:
    try:
        atomic_write(path, data)
    except OSError as exc:
        raise SidecarFailed(f"Could not write {path}: {exc.strerror or exc}.") from None
