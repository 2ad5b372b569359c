"""The classic recipe: Flask + eager PyTorch ResNet-18, one image per request.

This is the *baseline* localvision is measured against, written the way the usual
"serve a PyTorch model with Flask" tutorials do it (module-level model, full PIL
decode, torchvision transforms, ``torch.no_grad``). Do not optimise it: its
slowness is the point of comparison.

Run (from the repository root; the weights are a ResNet-18 state dict):

    CLASSIC_WEIGHTS=/tmp/r18.pth \
        .venv/bin/gunicorn -w 2 -b 127.0.0.1:8000 bench.classic_app:app

    curl -F file=@photo.jpg http://127.0.0.1:8000/predict

``POST /predict`` with multipart field ``file`` answers a JSON array of the top 3:
``{"label", "index", "probability" (0..1), "confidence" (percent, 2 decimals)}``.
Each gunicorn sync worker imports this module and so loads its own copy of the model.
"""
import io
import os

import torch
import torchvision.transforms as transforms
from flask import Flask, jsonify, request
from PIL import Image
from torchvision import models

app = Flask(__name__)

# ImageNet weights cannot be downloaded here, so the benchmark passes a state dict.
model = models.resnet18()
model.load_state_dict(torch.load(os.environ["CLASSIC_WEIGHTS"], map_location="cpu"))
model.eval()

labels = models.ResNet18_Weights.IMAGENET1K_V1.meta["categories"]

transform = transforms.Compose([
    transforms.Resize(256),
    transforms.CenterCrop(224),
    transforms.ToTensor(),
    transforms.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]),
])


def transform_image(image_bytes):
    image = Image.open(io.BytesIO(image_bytes)).convert("RGB")
    return transform(image).unsqueeze(0)


def get_prediction(image_bytes, k=3):
    tensor = transform_image(image_bytes)
    with torch.no_grad():
        outputs = model(tensor)
    probabilities = torch.nn.functional.softmax(outputs[0], dim=0)
    top_p, top_i = torch.topk(probabilities, k)
    return [
        {
            "label": labels[i],
            "index": i,
            "probability": p,
            "confidence": round(p * 100, 2),
        }
        for p, i in zip(top_p.tolist(), top_i.tolist())
    ]


@app.route("/predict", methods=["POST"])
def predict():
    if "file" not in request.files:
        return jsonify({"error": "no file part 'file'"}), 400
    img_bytes = request.files["file"].read()
    return jsonify(get_prediction(img_bytes))


if __name__ == "__main__":
    app.run()
