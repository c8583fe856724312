"""Synthetic analogues of the paper's figures and tables, one module per figure.

Each module is a `bounds.Figure`: it names the producer whose measurement it draws
(``PRODUCER``) and draws it with ``make(measurement, records, out_dir) -> list[pathlib.Path]``
from that measurement's fields and that producer's records — a figure shows exactly the numbers
the ledger's records were judged on, and reads their verdicts, bounds and intervals from the
records instead of judging again. The modules are registered as the entry points
``dssl_bounds.figures`` of the toolkit's ``pyproject.toml``, which is how ``dssl-bounds verify``
finds them (and an installed package's figures); importing this package loads nothing.

    bounds_vs_d          Theorems 4.2 / 4.3 bounds and the empirical sensitivity over d (linear)
    fig1_data            Fig. 1: the non-IID data (downstream)
    fig2a_connectivity   Fig. 2a: sensitivity vs average connectivity (distributed)
    fig2b_mar            Fig. 2b: MAR vs MIM over Dirichlet alpha (mar)
    fig3_features        Fig. 3: PCA of MIM / CL features (downstream)
    fig3_mar             Fig. 3, MAR column (mar)
    table1, table5       Tables 1 and 5 (downstream)
    table6               Table 6: consensus rules (distributed)
    table7, table8       Tables 7 and 8; table8 also writes the MAR rows of Table 5 (mar)
    heterogeneity_map    where non-IID data costs probe accuracy, and where not (heterogeneity_map)
"""

__all__ = ["bounds_vs_d", "fig1_data", "fig2a_connectivity", "fig2b_mar", "fig3_features", "fig3_mar", "table1",
           "table5", "table6", "table7", "table8", "heterogeneity_map"]
