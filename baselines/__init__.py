"""The baselines, installed as `aidbench.baselines`: SVD zero-shot / full fine-tune, Open-Sora, VAE reconstruction.

The modules arrive with issue #6.
"""
