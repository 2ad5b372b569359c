"""Streams of images arriving over time: video files, network streams and local cameras
(sources.py), smoothing sampled answers into labelled segments (smoothing.py), sampled frames
down the road in batches (frames.py), the labels drawn onto a video (annotate.py); watched
folders, and the labels written back into a photo library (XMP sidecars, folders per label)."""
