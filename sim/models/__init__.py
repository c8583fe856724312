"""Shallow models: two-layer encoders (MAE, SimSiam, InfoNCE), the MAR loss (Section 5),
FedMAR / DecMAR training and the linear probe."""
