"""JAX simulations of the paper's linear models (Sections 3.2-3.3, Definition 4.1).

Public surface of the simulation core (written for one client; lift with ``jax.vmap`` over
clients and seeds, every function jits):

Data (Section 3.2)
    DataConfig            data-model configuration; ``None`` fields take the theorem scalings
    sample_labelled       one main-distribution sample per class label
    sample_clients        the paper's non-IID construction, ``(N, n_total, d)`` plus labels
    second_moment         ``S = mean x x^T``, the sufficient statistic of every linear objective
    expected_second_moment  analytic ``E[S]`` of one client
Objectives and stationary points (Section 3.3)
    OBJECTIVES            "mim-surrogate", "mim-alignment", "mim-reconstruction",
                          "cl-similar", "cl-dissimilar"
    client_matrix         alignment matrix ``X`` of an objective
    encoder_subspace      orthonormal basis of ``row(W)`` at the stationary point
    encoder_fit, EncoderFit  the same with the spread of each ``r_k`` over the stationary
                          points (a tie at ``c`` makes them a family), the eigen-gap, a count
    mask_moments          mask-averaged moments of the visible/masked views (Eq. 3)
    reconstruction_loss   Eq. 3 averaged exactly over masks
    make_transform, transform_trace, check_transform   the CL transform ``H`` (Assumption A.9)
    top_eigenspace        top-``c`` eigenvectors and the descending spectrum
    fit_reconstruction, ReconstructionFit   Adam on Eq. 3 with sampled masks
Metrics (Definition 4.1, the corrected bound)
    representability, sensitivity, SENSITIVITY_VARIANTS, corrected_lower_bound,
    subspace_distance, class_minimum, is_binary
Studies (sim.studies: linear, connectivity, downstream)
    measurement programs with explicit sizes and ``*, key``

sim never calls ``jax.config``: enable float64 in the application (``bounds`` does) — the
representabilities are compared at the 1e-6 scale.
"""

from sim.data.config import DataConfig
from sim.data.model import ClientData, expected_second_moment, sample_clients, sample_labelled, second_moment
from sim.linear.matrices import (
    OBJECTIVES,
    check_transform,
    EncoderFit,
    client_matrix,
    encoder_fit,
    encoder_subspace,
    make_transform,
    mask_moments,
    reconstruction_loss,
    transform_trace,
)
from sim.linear.metrics import (
    SENSITIVITY_VARIANTS,
    class_minimum,
    is_binary,
    corrected_lower_bound,
    representability,
    sensitivity,
    subspace_distance,
)
from sim.linear.solvers import ReconstructionFit, fit_reconstruction, top_eigenspace

__all__ = [
    "DataConfig",
    "sample_labelled",
    "sample_clients",
    "second_moment",
    "expected_second_moment",
    "OBJECTIVES",
    "client_matrix",
    "encoder_subspace",
    "encoder_fit",
    "EncoderFit",
    "mask_moments",
    "reconstruction_loss",
    "make_transform",
    "transform_trace",
    "check_transform",
    "top_eigenspace",
    "fit_reconstruction",
    "ReconstructionFit",
    "representability",
    "sensitivity",
    "SENSITIVITY_VARIANTS",
    "corrected_lower_bound",
    "subspace_distance",
    "class_minimum",
    "is_binary",
]

# Blocks appended below by other modules' owners (one import block each, extending __all__).

# downstream
from sim.data import partition  # noqa: E402  (partitioners live in sim.data.partition)
from sim.models import probe, shallow
from sim.data.partition import (  # noqa: E402
    FeatureTransform,
    Heterogeneity,
    Partition,
    client_data,
    global_sample,
    heterogeneity,
)
from sim.models.probe import PROBES, linear_probe  # noqa: E402
from sim.models.shallow import ShallowConfig, ShallowLoss  # noqa: E402

__all__ += [
    "partition", "probe", "shallow", "Partition", "FeatureTransform", "Heterogeneity", "client_data",
    "global_sample", "heterogeneity", "PROBES", "linear_probe", "ShallowConfig", "ShallowLoss",
]

# distributed
from sim.engine import mixing, topology, train  # noqa: E402  (graphs, consensus, losses, FL/DecL engine)
from sim.linear import losses as objectives
from sim.engine.mixing import MIXING_RULES, Mixing, consensus_distance, custom_mixing, mixing_matrix  # noqa: E402
from sim.linear.losses import LinearObjective, encoder_row_space, init_linear_params, linear_objective  # noqa: E402
from sim.engine.topology import Topology, from_adjacency, make_topology  # noqa: E402
from sim.engine.train import (  # noqa: E402
    DivergenceError,
    TrainConfig,
    TrainResult,
    train_decl,
    train_fedavg,
    train_local,
)
from sim.engine.sharding import shard_clients  # noqa: E402  (client axis over every device)
from sim.engine.sharding import shard_seeds  # noqa: E402  (seed and client axes over every device)

__all__ += [
    "mixing", "objectives", "topology", "train", "MIXING_RULES", "Mixing", "consensus_distance", "custom_mixing",
    "mixing_matrix", "LinearObjective", "encoder_row_space", "init_linear_params", "linear_objective", "Topology",
    "from_adjacency", "make_topology", "ClientData", "DivergenceError", "TrainConfig", "TrainResult", "train_decl",
    "train_fedavg", "train_local", "shard_clients",
]
__all__ += ["shard_seeds"]

# mar
from sim.data import latent  # noqa: E402  (MAR loss, FedMAR / DecMAR, the latent data model)
from sim.models import mar, mar_train
from sim.data.latent import LatentConfig, make_latent_model  # noqa: E402
from sim.models.mar import a_mmd, alignment, gamma_schedule, global_embeddings, mar_weight, MARLoss  # noqa: E402
from sim.models.mar_train import MixedMARLoss, train_decmar, train_fedmar  # noqa: E402
from sim.data.partition import class_count  # noqa: E402

__all__ += [
    "latent", "mar", "mar_train", "LatentConfig", "make_latent_model", "a_mmd", "alignment", "gamma_schedule",
    "global_embeddings", "mar_weight", "MARLoss", "MixedMARLoss", "train_decmar", "train_fedmar", "class_count",
]
