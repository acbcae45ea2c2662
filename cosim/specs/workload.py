"""Workload files (`workloads/*.yaml`): network, data, training schedule and update rules."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

from pydantic import Field, create_model, field_validator, model_validator

from cosim.registry import RULES
from cosim.specs.base import FrozenSpec, PositiveInt, Seconds, load_spec, resolve_spec
from cosim.specs.network import NetworkSpec


class DataSpec(FrozenSpec):
    dataset: Literal["digits", "denoise", "sr_x2"] = Field(
        description="digits: scikit-learn's 8x8 digits (classification); denoise: Gaussian-noise "
                    "removal and sr_x2: bicubic x2 super-resolution on patches of scikit-image's "
                    "bundled photographs (train and test photographs are disjoint).")
    test_fraction: float = Field(0.25, gt=0.0, lt=1.0, description="digits: stratified held-out share.")
    split_seed: int = Field(0, ge=0, description="Seed of the fixed train/test split or patch draw.")
    patch: PositiveInt = Field(40, le=512, description="Images: side of a clean / high-resolution patch (px).")
    train_patches: PositiveInt = Field(2048, le=1_000_000, description="Images: training patches drawn.")
    test_patches: PositiveInt = Field(64, le=100_000, description="Images: test patches drawn.")
    noise_sigma: float = Field(25.0 / 255.0, gt=0.0, le=1.0,
                               description="denoise: std of the additive Gaussian noise (images in [0, 1]).")
    sr_input: Literal["low", "bicubic"] = Field(
        "low", description="sr_x2: the network's input, the low-resolution patch (e.g. ESPCN, which "
                           "upsamples itself) or its bicubic x2 upsampling (a same-size network that "
                           "learns a residual over bicubic, as VDSR / DnCNN-3).")
    min_patch_std: float = Field(
        0.0, ge=0.0, lt=0.5,
        description="Images: keep only patches whose pixel std (images in [0, 1]) is at least this, in "
                    "both splits; 0 keeps every patch. Texture-aware sampling (SamplingAug, Wang et al. "
                    "2021) that drops flat patches, where SR has nothing to learn.")

    @property
    def input_nonnegative(self) -> bool:
        """True when every network input value is >= 0 (digits pixels, the [0, 1] low-resolution
        patches of sr_x2), so a first-layer MVM needs only a positive input phase; denoise inputs
        carry unclipped Gaussian noise and are signed. cosim.nn.tasks.Task checks it on the arrays."""
        return self.dataset in ("digits", "sr_x2")   # bicubic upsampling is clipped to [0, 1]


class MappingSpec(FrozenSpec):
    """How weights map onto the conductance range (see cosim.devices.mapping)."""

    policy: Literal["max_abs", "fixed"] = Field(
        "max_abs", description="max_abs: scale = headroom · max |W_init| per layer/column; fixed: "
        "training.weight_bound for every layer.")
    headroom: float = Field(2.0, ge=1.0, le=100.0, description="max_abs: full range / max |W_init| (dimensionless).")
    granularity: Literal["layer", "column"] = Field("layer", description="One scale per layer or per column.")


class TrainingSpec(FrozenSpec):
    """The training schedule."""

    steps: PositiveInt = Field(description="Optimizer steps (mini-batches).")
    batch_size: PositiveInt = Field(32, description="Samples per mini-batch.")
    learning_rate: float = Field(0.1, gt=0.0, le=100.0, description="SGD step size (dimensionless).")
    eval_every: PositiveInt = Field(25, description="Steps between test-set evaluations.")
    weight_bound: float = Field(1.0, gt=0.0, le=1e3,
                                description="Weight magnitude mapped to a full device range (g_max - g_min) "
                                "under mapping.policy fixed (and the cost-only mode's reference scale).")
    mapping: MappingSpec = MappingSpec()
    backward_on: Literal["tiles", "host"] = Field(
        "tiles", description="Error back-propagation dy @ W.T as transposed tile reads, or digitally "
        "on the host from the weights as programmed (priced as host MACs).")
    step_period: Seconds["1 ns", "1e6 s"] | None = Field(
        None, description="Wall time of one training step on the system, seconds (data loading, host "
        "work): a step that finishes sooner idles until then, so device relaxation acts on the time "
        "scale the training really spans. None: steps follow one another back to back.")
    retention_checks: tuple[Seconds["1 ms", "1e10 s"], ...] = Field(
        (), max_length=16, description="Delays after training, seconds: the test metric is measured again "
        "once the devices have drifted/relaxed that long (unpriced measurements).")


def _rules_spec() -> type[FrozenSpec]:
    """The `rules` section: one field per registered rule's parameter section (cosim.registry)."""
    sections: dict[str, type] = {}
    for entry in RULES.entries():
        if entry.params is not None and sections.setdefault(entry.section, entry.params) is not entry.params:
            raise TypeError(f"rules section {entry.section!r} has two parameter models")
    return create_model("RulesSpec", __base__=FrozenSpec, __doc__="Parameters of the update rules, by section.",
                        **{name: (model, model()) for name, model in sections.items()})


RulesSpec = _rules_spec()


def default_methods() -> tuple[str, ...]:
    """The rules a workload that lists no methods trains."""
    return tuple(e.name for e in RULES.entries() if e.default)


class CostOnlySpec(FrozenSpec):
    """Statistics that stand in for training numerics in `cosim cost` (shapes-only workloads)."""

    update_scale: float = Field(
        gt=0.0, le=1.0,
        description="Mean |ΔW| per weight per step as a fraction of weight_bound (dimensionless); "
                    "ΔW is modelled as zero-mean Gaussian with this mean magnitude.")
    update_scale_source: str = Field(min_length=1, description="Where update_scale comes from.")
    mean_weight_fraction: float = Field(
        0.25, gt=0.0, le=0.5,
        description="Mean |w| / the layer's mapping scale (weight_bound under mapping policy fixed); sample "
                    "tiles' weights are drawn uniform in ±2x this (dimensionless).")
    input_bit_density: float = Field(
        0.5, gt=0.0, le=1.0,
        description="Share of 1s in the input bit-slices driving the rows (dimensionless); "
                    "0.5 = uniformly distributed input codes (assumed).")


class WorkloadSpec(FrozenSpec):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    seed: int = Field(0, ge=0, description="Training seed (weights, batches, device variation, noise).")
    data: DataSpec | None = Field(
        None, description="Training data; omit for a shapes-only workload (cost-only mode, needs cost_only; "
                          "its input is taken as signed, like normalised images).")
    network: NetworkSpec
    training: TrainingSpec
    methods: tuple[str, ...] = Field(default_factory=default_methods,
                                     description="Update rules to train (cosim.registry.RULES).")
    rules: RulesSpec = RulesSpec()
    gpus: tuple[str, ...] = Field(("h200", "a100"), description="GPUs (hardware_specs/gpus stems) to compare with.")
    cost_only: CostOnlySpec | None = Field(
        None, description="Update statistics for `cosim cost`; required when data is omitted.")

    @property
    def input_nonnegative(self) -> bool:
        """Whether the network input is never negative (see DataSpec.input_nonnegative); a
        shapes-only workload's input is taken as signed (normalised images)."""
        return self.data is not None and self.data.input_nonnegative

    @field_validator("methods")
    @classmethod
    def _known_methods(cls, methods: tuple[str, ...]) -> tuple[str, ...]:
        return check_methods(methods)

    @model_validator(mode="after")
    def _shapes_only_needs_statistics(self):
        if self.data is None and self.cost_only is None:
            raise ValueError("a workload without `data` (shapes only) needs a `cost_only` section")
        return self

    @model_validator(mode="after")
    def _network_fits_data(self):
        if self.data is None:   # shapes only: nothing to fit
            return self
        problem = data_mismatch(self.data, self.network.build())
        if problem:
            raise ValueError(f"network does not fit data.dataset {self.data.dataset!r}: {problem}")
        return self


def data_mismatch(data: DataSpec, arch) -> str | None:
    """Why `arch` cannot train on `data` (shapes, loss), or None when it can."""
    if data.dataset == "digits":
        if math.prod(arch.input_shape) != 64 or arch.loss != "cross_entropy" or arch.classes != 10:
            return (f"digits needs 64 input values, 10 classes and a cross_entropy loss; "
                    f"{arch.name} has input {arch.input_shape}, {arch.classes} classes, loss {arch.loss}")
        return None
    p = data.patch
    scale = 2 if data.dataset == "sr_x2" else 1
    if p % scale:
        return f"patch {p} is not a multiple of the scale {scale}"
    side_in = p if data.dataset == "denoise" or data.sr_input == "bicubic" else p // scale
    want_in, want_out = (1, side_in, side_in), (1, p, p)
    if tuple(arch.input_shape) != want_in or tuple(arch.output_shape) != want_out or arch.loss != "mse":
        return (f"{data.dataset} with patch {p} needs input {want_in}, output {want_out} and an mse "
                f"loss; {arch.name} has {tuple(arch.input_shape)} -> {tuple(arch.output_shape)}, "
                f"loss {arch.loss}")
    return None



def check_methods(methods) -> tuple[str, ...]:
    """Reject empty, repeated or unknown update-rule names."""
    methods = tuple(methods)
    unknown = [m for m in methods if m not in RULES]
    if unknown:
        raise ValueError(f"unknown method(s) {', '.join(unknown)}; known: {', '.join(RULES.names())}")
    if not methods or len(set(methods)) != len(methods):
        raise ValueError("must list at least one method, each once")
    return methods


def load_workload(path: str | Path) -> WorkloadSpec:
    """A workload file, or a shipped one by name ("digits_mlp"); relative paths resolve as in resolve_path."""
    return load_spec(WorkloadSpec, resolve_spec(path, "workload"), "workload")
