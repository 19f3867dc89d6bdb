"""The baselines, installed as `aidbench.baselines` (supplementary Table 2 beside AID).

svd.py (svd-zeroshot), svd_fullft.py (svd-fullft), vae.py (vae-recon); Open-Sora 1.2 as written here:
opensora.py (STDiT3), opensora_vae.py, opensora_text.py (T5 captions), rflow.py (rectified flow), and
opensora_system.py, which assembles them into opensora-zeroshot and opensora-fullft.
"""
