"""The model registry, pinned to real behaviour: labels and preprocessing match the libraries the
weights come from, real photos get their real top-1, and localvision's ResNet-18 equals
torchvision's own reference pipeline."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from corpus import GOLDEN
from PIL import Image

from localvision import load_classifier
from localvision.errors import UnknownModel, WeightsInvalid
from localvision.models import get_spec, model_names


def test_registry_lists_every_model():
    assert model_names() == ["resnet18", "efficientnet_lite0", "mobilenet_v3_large", "resnet50"]


def test_unknown_model_names_the_known_ones():
    with pytest.raises(UnknownModel, match="resnet18, efficientnet_lite0, mobilenet_v3_large"):
        get_spec("vgg99")


@pytest.mark.parametrize("name", model_names())
def test_labels_are_torchvision_imagenet_categories(name):
    from torchvision.models import ResNet18_Weights

    assert get_spec(name).labels == tuple(ResNet18_Weights.IMAGENET1K_V1.meta["categories"])


@pytest.mark.parametrize("name", model_names())
def test_architecture_output_size_derives_from_labels(name):
    spec = get_spec(name)
    model = spec.build(spec.num_classes).eval()
    with torch.inference_mode():
        out = model(torch.zeros(1, 3, spec.preprocess.crop, spec.preprocess.crop))
    assert out.shape == (1, 1000)


TORCHVISION_WEIGHTS = {
    "resnet18": "ResNet18_Weights.IMAGENET1K_V1",
    "mobilenet_v3_large": "MobileNet_V3_Large_Weights.IMAGENET1K_V2",
    "resnet50": "ResNet50_Weights.IMAGENET1K_V2",
}


def _torchvision_weights(name: str):
    import torchvision.models

    enum, member = TORCHVISION_WEIGHTS[name].split(".")
    return getattr(getattr(torchvision.models, enum), member)


@pytest.mark.parametrize("name", TORCHVISION_WEIGHTS)
def test_preprocessing_url_and_accuracy_match_torchvisions_weights(name):
    from torchvision.transforms import InterpolationMode

    weights = _torchvision_weights(name)
    ref = weights.transforms()
    spec = get_spec(name)
    pp = spec.preprocess
    assert (pp.resize, pp.crop) == (ref.resize_size[0], ref.crop_size[0])
    assert ref.interpolation == InterpolationMode.BILINEAR and pp.interpolation == "bilinear"
    assert list(pp.mean) == ref.mean and list(pp.std) == ref.std
    assert spec.weights.url == weights.url
    assert spec.weights.filename == weights.url.rsplit("/", 1)[1]
    assert spec.metrics["imagenet_top1"] == weights.meta["_metrics"]["ImageNet-1K"]["acc@1"]


def test_efficientnet_lite0_preprocessing_matches_timm_cfg():
    import timm

    cfg = timm.create_model("tf_efficientnet_lite0", pretrained=False).pretrained_cfg
    pp = get_spec("efficientnet_lite0").preprocess
    assert pp.crop == cfg["input_size"][1]
    assert pp.resize == int(pp.crop / cfg["crop_pct"])
    assert pp.interpolation == cfg["interpolation"]
    assert pp.mean == cfg["mean"] and pp.std == cfg["std"]


@pytest.mark.parametrize("photo,label", GOLDEN.items())
def test_golden_top1_on_real_photos(lite0, photos, photo, label):
    (result,) = lite0.predict([photos[photo]], top_k=5)
    assert result.error is None
    assert result.predictions[0].label == label
    probs = [p.probability for p in result.predictions]
    assert probs == sorted(probs, reverse=True) and 0 < probs[0] <= 1


def test_efficientnet_lite0_preprocessing_equals_timm_transform(lite0, photos):
    import timm.data

    cfg = timm.data.resolve_data_config({}, model=lite0.backend.model)
    ref = timm.data.create_transform(**cfg)
    img = Image.open(io.BytesIO(photos["chelsea"])).convert("RGB")
    np.testing.assert_allclose(lite0.prepare(photos["chelsea"]), ref(img).numpy(), atol=1e-6)


@pytest.fixture(scope="module")
def seeded_weights(tmp_path_factory):
    """A seeded random state dict per torchvision model (the real architecture, not the real
    weights: those cannot be downloaded here)."""
    import torchvision.models

    made = {}

    def weights_for(name: str):
        if name not in made:
            torch.manual_seed(0)
            state = getattr(torchvision.models, name)().state_dict()
            # A freshly initialised network can be degenerate (MobileNetV3's answers are all
            # exactly 1/1000, a thousand-way tie): random batch-norm statistics and biases make
            # every class's score differ, so the top-5 order means something.
            for key, t in state.items():
                if key.endswith(("running_mean", "bias")):
                    state[key] = torch.randn_like(t) * 0.1
                elif key.endswith("running_var"):
                    state[key] = torch.rand_like(t) + 0.5
            path = tmp_path_factory.mktemp("seeded") / f"{name}-random.pth"
            torch.save(state, path)
            made[name] = path
        return made[name]

    return weights_for


# ResNet-18 on every backend; the other torchvision models on the torch reference and OpenVINO.
REFERENCE_CASES = [
    ("resnet18", "torch"), ("resnet18", "openvino"), ("resnet18", "onnxruntime"),
    ("mobilenet_v3_large", "torch"), ("mobilenet_v3_large", "openvino"),
    ("resnet50", "torch"), ("resnet50", "openvino"),
]  # fmt: skip


@pytest.fixture(scope="module", params=REFERENCE_CASES, ids=["-".join(c) for c in REFERENCE_CASES])
def exact_fp32(request, seeded_weights):
    """(localvision's model with --exact-decode --precision fp32 on a backend, torchvision's own
    pipeline: its weights' transforms and the eager fp32 model, with the same weights)."""
    import torchvision.models

    name, backend = request.param
    path = seeded_weights(name)
    ours = load_classifier(name, path, exact_decode=True, backend=backend, precision="fp32")
    ref = getattr(torchvision.models, name)()
    ref.load_state_dict(torch.load(path, weights_only=True))
    return ours, ref.eval(), _torchvision_weights(name).transforms()


@pytest.mark.parametrize("photo", GOLDEN)
def test_exact_fp32_reproduces_torchvision_reference_pipeline(exact_fp32, photos, photo):
    """Within 5e-4 in probability and the same top-5 order, whatever the CPU: fp32 is fp32 even
    where OpenVINO would otherwise run bf16 (a CPU with AVX512_BF16)."""
    ours, ref_model, ref_tf = exact_fp32
    img = Image.open(io.BytesIO(photos[photo])).convert("RGB")
    with torch.inference_mode():
        ref_probs = ref_model(ref_tf(img)[None]).softmax(-1)[0].numpy()
    (result,) = ours.predict([photos[photo]], top_k=5)
    assert [p.index for p in result.predictions] == list(np.argsort(-ref_probs)[:5])
    ours_probs = ours.probabilities(ours.prepare(photos[photo])[None])[0]
    np.testing.assert_allclose(ours_probs, ref_probs, atol=5e-4)
    assert ours.backend.precision == "fp32"


def test_weights_that_do_not_fit_are_refused_with_names(tmp_path, resnet18_weights):
    sd = torch.load(resnet18_weights, weights_only=True)
    sd["fc.weight"] = torch.zeros(10, 512)
    bad = tmp_path / "ten-classes.pth"
    torch.save(sd, bad)
    with pytest.raises(WeightsInvalid, match=r"ten-classes\.pth.*fc\.weight \(10, 512\)"):
        load_classifier("resnet18", bad)


def test_efficientnet_remap_checks_shapes(tmp_path, resnet18_weights):
    with pytest.raises(WeightsInvalid, match="efficientnet_lite0"):
        load_classifier("efficientnet_lite0", resnet18_weights)


def test_top_k_is_capped_at_the_number_of_classes(lite0, photos):
    (result,) = lite0.predict([photos["coffee"]], top_k=5000)
    assert len(result.predictions) == 1000
    assert sum(p.probability for p in result.predictions) == pytest.approx(1.0, abs=1e-3)
