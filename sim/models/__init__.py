"""Shallow models: two-layer encoders (MAE, SimSiam, InfoNCE), the MAR loss (Section 5),
FedMAR / DecMAR training, the linear probe and the representation diagnostics."""
