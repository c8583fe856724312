"""Linear objectives and their solvers (Section 3.3): client matrices, the objective registry,
sufficient statistics, eigen-solvers (dense, top-``c``, large ``d``), the losses the training
engine minimises and the metrics of Definition 4.1."""
