"""AID itself, installed as `aidbench.model`: DQFormer, adapters, MCondition, the MLLM states, the pipeline.

The modules arrive with issue #5 (see ARCHITECTURE.md for the planned layout).
"""
