"""localvision: local, offline image recognition (TorchVision ResNet-18, ImageNet-1k).

    >>> from localvision import load_classifier
    >>> clf = load_classifier()                  # model "auto"
    >>> clf.predict(["coffee.jpg"], top_k=3)[0].predictions[0].label
    'espresso'
"""

from .classifier import Classifier, load_classifier
from .errors import LocalVisionError
from .results import Prediction, Result

__all__ = ["Classifier", "LocalVisionError", "Prediction", "Result", "load_classifier"]
__version__ = "0.1.0"
