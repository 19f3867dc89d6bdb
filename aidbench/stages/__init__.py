"""The stages of the flow, one entry point each: train, sample, eval (data and report have their own packages)."""
