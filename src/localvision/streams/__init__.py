"""Streams of images arriving over time: video files and cameras, watched folders, and the
labels written back into a photo library (XMP sidecars, folders per label)."""
