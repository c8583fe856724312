"""JAX simulations of the paper's models (Sections 3.2-3.3, Definition 4.1, Section 5).

Functions are written for one client (lift with ``jax.vmap`` over clients and seeds) and jit;
randomness only through explicit ``key`` arguments. The public surface, by room:

Data (``sim.data``; Section 3.2)
    DataConfig, ClientData        data-model configuration (``None`` fields take the theorem
                                  scalings); stacked per-client samples with a validity mask
    sample_labelled, sample_clients, second_moment, expected_second_moment
                                  one sample per class; the paper's non-IID construction;
                                  ``S = mean x x^T`` and its exact expectation
    Partition, FeatureTransform, Heterogeneity, iid_partition, dirichlet_partition,
    paper_partition, heterogeneity, client_data, global_sample, class_count
                                  partitioners (label and feature skew) and their measured
                                  heterogeneity
    LatentConfig, make_latent_model, population_moments, masked_r2
                                  the latent data model of the shallow and MAR studies
    bernoulli_mask, client_keys, MASK_RATIO
                                  sampled masks, per-round client keys, the paper's mask ratio
                                  ``p = 0.75`` (every config's ``mask_ratio`` default)
Linear objectives and solvers (``sim.linear``; Section 3.3)
    Objective, BUILTIN_OBJECTIVES, OBJECTIVES, get_objective, objectives
                                  the objectives as values, their registry (installed packages
                                  add to it through the ``dssl_bounds.objectives`` entry points)
    client_matrix, encoder_subspace, encoder_fit, EncoderFit, mask_moments, reconstruction_loss,
    make_transform, transform_trace, check_transform, SUBSPACE_RESOLUTION
                                  stationary points, the CL transform ``H`` (Assumption A.9), the
                                  resolution below which two subspaces are one
    top_eigenspace, top_eigenspace_matvec, fit_reconstruction, ReconstructionFit
                                  dense and matrix-free top-``c``; Adam on Eq. 3
    draw_second_moment_factors, top_eigenspace_factors, BIGD_OPERATORS
                                  large ``d``: factored second moments, never formed
    representability, sensitivity, SENSITIVITY_VARIANTS, corrected_lower_bound,
    subspace_distance, class_minimum, is_binary
                                  Definition 4.1's metrics
    LinearObjective, linear_objective, init_linear_params, encoder_row_space
                                  the linear encoders' losses for gradient training
Training engine (``sim.engine``; FL and DecL)
    TrainConfig, TrainResult, DivergenceError, train_local, train_fedavg, train_decl
    fedavg_program, decl_program, local_training, optimizer
                                  the compiled round loops the trainers run
    Topology, make_topology, from_adjacency, MIXING_RULES, Mixing, mixing_matrix,
    custom_mixing, consensus_distance, mix
    directed_exponential, MixingSchedule, mixing_schedule, one_peer_exponential, random_matching
                                  directed graphs (Ying et al.'s exponential graph) and
                                  time-varying mixing selected inside the compiled round loop
    shard_clients, shard_seeds    the client / seed axis over every device
Models (``sim.models``)
    ShallowConfig, ShallowLoss, init_shallow_params, encode
                                  two-layer MAE / SimSiam encoders
    PROBES, linear_probe          downstream probes
    MARLoss, MixedMARLoss, a_mmd, alignment, gamma_schedule, global_embeddings, mar_weight,
    GAMMA_MAX, GAMMA_MIN, train_fedmar, train_decmar
                                  MAR (Eqs. 6-7, the paper's cosine schedule), FedMAR and DecMAR
    uniformity, view_alignment, effective_rank, embedding_spectrum
                                  representation diagnostics of a batch of embeddings: Wang &
                                  Isola's uniformity and alignment (``sim.models.diagnostics.
                                  alignment``; ``alignment`` is MAR's term), RankMe, the spectrum
Validators
    checks                        the configs' ``ValueError`` validators (a module: ``from sim
                                  import checks``)

The measurement programs are `sim.studies` (its own ``__all__``). sim never calls
``jax.config``: enable float64 in the application (``bounds`` does) — the representabilities
are compared at the 1e-6 scale.
"""

from sim.data.config import DataConfig
from sim.data.latent import LatentConfig, make_latent_model, masked_r2, population_moments
from sim.data.masks import MASK_RATIO, bernoulli_mask, client_keys
from sim.data.model import ClientData, expected_second_moment, sample_clients, sample_labelled, second_moment
from sim.data.partition import (
    FeatureTransform,
    Heterogeneity,
    Partition,
    class_count,
    client_data,
    global_sample,
    heterogeneity,
)
from sim.data.partition import dirichlet as dirichlet_partition
from sim.data.partition import iid as iid_partition
from sim.data.partition import paper as paper_partition
from sim.engine.mixing import (
    MIXING_RULES,
    Mixing,
    MixingSchedule,
    consensus_distance,
    custom_mixing,
    mix,
    mixing_matrix,
    mixing_schedule,
    one_peer_exponential,
    random_matching,
)
from sim.engine.sharding import shard_clients, shard_seeds
from sim.engine.topology import Topology, directed_exponential, from_adjacency, make_topology
from sim.engine.train import (
    DivergenceError,
    TrainConfig,
    TrainResult,
    decl_program,
    fedavg_program,
    local_training,
    optimizer,
    train_decl,
    train_fedavg,
    train_local,
)
from sim.linear.bigd import OPERATORS as BIGD_OPERATORS
from sim.linear.bigd import draw_second_moment_factors, top_eigenspace_factors
from sim.linear.losses import LinearObjective, encoder_row_space, init_linear_params, linear_objective
from sim.linear.matrices import (
    SUBSPACE_RESOLUTION,
    EncoderFit,
    check_transform,
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
    corrected_lower_bound,
    is_binary,
    representability,
    sensitivity,
    subspace_distance,
)
from sim.linear.objective import BUILTIN_OBJECTIVES, OBJECTIVES, Objective, get_objective, objectives
from sim.linear.solvers import ReconstructionFit, fit_reconstruction, top_eigenspace
from sim.linear.topc import top_eigenspace_matvec
from sim.models.diagnostics import alignment as view_alignment
from sim.models.diagnostics import effective_rank, embedding_spectrum, uniformity
from sim.models.mar import GAMMA_MAX, GAMMA_MIN, MARLoss, a_mmd, alignment, gamma_schedule, global_embeddings, mar_weight
from sim.models.mar_train import MixedMARLoss, train_decmar, train_fedmar
from sim.models.probe import PROBES, linear_probe
from sim.models.shallow import ShallowConfig, ShallowLoss, encode
from sim.models.shallow import init_params as init_shallow_params

__all__ = [
    # data
    "DataConfig", "ClientData", "sample_labelled", "sample_clients", "second_moment", "expected_second_moment",
    "Partition", "FeatureTransform", "Heterogeneity", "iid_partition", "dirichlet_partition", "paper_partition",
    "heterogeneity", "client_data", "global_sample", "class_count",
    "LatentConfig", "make_latent_model", "population_moments", "masked_r2",
    "bernoulli_mask", "client_keys", "MASK_RATIO",
    # linear objectives and solvers
    "Objective", "BUILTIN_OBJECTIVES", "OBJECTIVES", "get_objective", "objectives",
    "client_matrix", "encoder_subspace", "encoder_fit", "EncoderFit", "mask_moments", "reconstruction_loss",
    "make_transform", "transform_trace", "check_transform", "SUBSPACE_RESOLUTION",
    "top_eigenspace", "top_eigenspace_matvec", "fit_reconstruction", "ReconstructionFit",
    "draw_second_moment_factors", "top_eigenspace_factors", "BIGD_OPERATORS",
    "representability", "sensitivity", "SENSITIVITY_VARIANTS", "corrected_lower_bound", "subspace_distance",
    "class_minimum", "is_binary",
    "LinearObjective", "linear_objective", "init_linear_params", "encoder_row_space",
    # training engine
    "TrainConfig", "TrainResult", "DivergenceError", "train_local", "train_fedavg", "train_decl",
    "fedavg_program", "decl_program", "local_training", "optimizer",
    "Topology", "make_topology", "from_adjacency", "MIXING_RULES", "Mixing", "mixing_matrix", "custom_mixing",
    "consensus_distance", "mix", "shard_clients", "shard_seeds",
    "directed_exponential", "MixingSchedule", "mixing_schedule", "one_peer_exponential", "random_matching",
    # models
    "ShallowConfig", "ShallowLoss", "init_shallow_params", "encode", "PROBES", "linear_probe",
    "MARLoss", "MixedMARLoss", "GAMMA_MAX", "GAMMA_MIN", "a_mmd", "alignment", "gamma_schedule", "global_embeddings", "mar_weight",
    "train_fedmar", "train_decmar",
    "uniformity", "view_alignment", "effective_rank", "embedding_spectrum",
    # validators (a module, imported by ``from sim import checks``)
    "checks",
]
