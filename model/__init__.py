"""AID itself, installed as `aidbench.model`: DQFormer, adapters, MCondition, the MLLM states, the pipeline."""
