"""The training-time views of an image: what a trainer shows the model instead of the one clean
view the road serves.

    decoded photo ──► RandomResizedCrop ──► flip ──► ColorJitter ──► RandAugment ──► tensor
                      (the model's crop and interpolation; torchvision.transforms.v2), normalized
                      with the model's mean and std

Every view is made from its own seed (the run's seed, the image's place in the training set,
the view or epoch), inside a forked torch RNG: the same seed gives the same views whatever
order they are made in, and augmentation never disturbs the training's own random stream.

Head mode computes the features of a few views per image once (VIEWS_PER_IMAGE, beside the
clean view the road itself prepares), then trains the new last layer on all of them for many
epochs: most of augmentation's benefit at a few times the cost of one pass, instead of a pass of
the whole network per epoch. Finetune and full mode draw a fresh view per image per epoch.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from ..imaging import decode_picture
from ..transforms import Preprocess

# Head mode: augmented views per training image, computed once, besides the clean one. 3: the
# features pass then costs 4x one pass (seconds for a few hundred photos on two cores); more
# views added little on the tests' photos.
VIEWS_PER_IMAGE = 3
# RandomResizedCrop keeps 35-100% of the picture: small objects stay recognizable in a crop
# (torchvision's 8% lower bound is for training ImageNet from scratch, for hundreds of epochs).
CROP_SCALE = (0.35, 1.0)


def view_seed(*parts: object) -> int:
    """A 63-bit seed from the run's seed and the view's coordinates (stable across runs and
    Python versions, unlike hash())."""
    digest = hashlib.sha256(repr(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def train_transform(pp: Preprocess):
    """The augmentation pipeline for a model's preprocessing: PIL image -> normalized
    (3, crop, crop) float32 tensor."""
    import torch
    from torchvision.transforms import InterpolationMode, v2

    interpolation = {"bilinear": InterpolationMode.BILINEAR, "bicubic": InterpolationMode.BICUBIC}[
        pp.interpolation
    ]
    return v2.Compose(
        [
            v2.RandomResizedCrop(
                pp.crop, scale=CROP_SCALE, interpolation=interpolation, antialias=True
            ),
            v2.RandomHorizontalFlip(),
            v2.ColorJitter(brightness=0.3, contrast=0.3, saturation=0.3, hue=0.03),
            # magnitude 7 of 31 rather than the ImageNet recipes' 9: a few photos per class
            # cannot afford views that no longer look like their class
            v2.RandAugment(num_ops=2, magnitude=7, interpolation=interpolation),
            v2.ToImage(),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize(list(pp.mean), list(pp.std)),
        ]
    )


class Augmenter:
    """Augmented views of image files for one model's preprocessing."""

    def __init__(self, pp: Preprocess, *, max_pixels: int):
        self.pp = pp
        self.max_pixels = max_pixels
        self.transform = train_transform(pp)

    def load(self, path: Path):
        """The photo decoded with the road's own decoder (imaging.py), at a reduced scale when
        it is far larger than the model needs (the crop is resized down anyway)."""
        pic = decode_picture(
            Path(path).read_bytes(), max_pixels=self.max_pixels, draft_min_side=self.pp.draft_side
        )
        if pic.box is None:
            return pic.image
        return pic.image.crop(tuple(round(v) for v in pic.box))

    def view(self, image, seed: int):
        """One augmented view of a decoded image, made from `seed` alone."""
        import torch

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return self.transform(image)
