"""Inference backends behind one small interface, and the micro-batcher."""
