"""A workload's `network` section: an architecture name and its typed parameters.

Each architecture of cosim.arch has a parameter model here (same names and defaults as its
builder, checked by tests/test_network_params.py), so `channels: not-a-number` or an unknown key
is refused with the file and `network.params.<field>` before anything is built.
"""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, SerializeAsAny, ValidationInfo, field_validator, model_validator

from cosim.arch import Arch, build_arch
from cosim.specs.base import FrozenSpec, NestedProblems, PositiveInt, validation_problems

Width = Annotated[int, Field(gt=0, le=65536)]
Channels = Annotated[int, Field(gt=0, le=64, description="Image channels (1 grey, 3 RGB).")]
Side = Annotated[int, Field(gt=0, le=4096)]


class ArchParams(FrozenSpec):
    """Base of the per-architecture parameter models."""


class MlpParams(ArchParams):
    widths: tuple[Width, ...] = Field(min_length=2, max_length=64,
                                      description="Layer widths including input and output, e.g. [64, 64, 10].")
    activation: Literal["sigmoid", "relu", "gelu"] = Field("sigmoid", description="Hidden-layer activation.")


class DncnnParams(ArchParams):
    depth: int = Field(17, ge=2, le=200, description="Conv layers (Zhang et al. 2017 use 17).")
    channels: Width = Field(64, description="Feature maps per hidden conv layer.")
    batch_norm: bool = Field(True, description="Batch norm (on the host) after each hidden conv.")
    image_channels: Channels = 1
    patch: Side = Field(40, description="Side of the input patch, pixels.")
    zero_init_last: bool = Field(False, description="Start the noise estimate at zero (identity at start).")


class EspcnParams(ArchParams):
    widths: tuple[Width, Width] = Field((64, 32), description="Feature maps of the first two convs.")
    scale: int = Field(2, ge=1, le=8, description="Upscaling factor (pixel shuffle).")
    image_channels: Channels = 1
    patch: Side = Field(20, description="Side of the low-resolution input patch, pixels.")


class ResnetParams(ArchParams):
    depth: Literal[8, 14, 20, 18, 34, 50] = Field(
        18, description="8/14/20: 3-stage CIFAR nets; 18/34/50: the 4-stage ImageNet family.")
    dataset: Literal["cifar", "imagenet"] = Field(
        "cifar", description="Stem: cifar 3x3 stride 1 (32 px); imagenet 7x7 stride 2 + max-pool (224 px).")
    classes: PositiveInt = Field(10, le=100_000, description="Output classes.")
    base_width: Width = Field(64, description="Channels of the first stage (doubling per stage).")
    image_size: Side | None = Field(None, description="Input side, pixels; null: 32 (cifar) or 224 (imagenet).")
    image_channels: Channels = 3


class VitParams(ArchParams):
    image_size: Side = Field(224, description="Input side, pixels.")
    patch: Side = Field(16, description="Patch side, pixels (kernel = stride of the embedding).")
    dim: Width = Field(192, description="Token width.")
    depth: int = Field(12, ge=1, le=1000, description="Transformer blocks.")
    heads: Width = Field(3, description="Attention heads (dim must be a multiple).")
    mlp_ratio: float = Field(4.0, gt=0.0, le=64.0, description="MLP hidden width / dim.")
    classes: PositiveInt = Field(1000, le=100_000, description="Output classes.")
    image_channels: Channels = 3

    @model_validator(mode="after")
    def _fits(self):
        if self.dim % self.heads:
            raise ValueError(f"dim ({self.dim}) must be a multiple of heads ({self.heads})")
        if self.image_size % self.patch:
            raise ValueError(f"image_size ({self.image_size}) must be a multiple of patch ({self.patch})")
        return self


# Architecture name (cosim.arch.BUILDERS) -> its parameter model.
ARCH_PARAMS: dict[str, type[ArchParams]] = {"mlp": MlpParams, "dncnn": DncnnParams, "espcn": EspcnParams,
                                            "resnet": ResnetParams, "vit": VitParams}


class NetworkSpec(FrozenSpec):
    """The network to train: an architecture and its parameters."""

    arch: str = Field(description="Architecture name: mlp, dncnn, espcn, resnet or vit (cosim.arch).")
    params: SerializeAsAny[ArchParams] = Field(
        default_factory=dict, validate_default=True,
        description="The architecture's parameters (see the per-architecture tables).")

    @field_validator("arch")
    @classmethod
    def _known_arch(cls, arch: str) -> str:
        if arch not in ARCH_PARAMS:
            raise ValueError(f"unknown architecture {arch!r}; known: {', '.join(sorted(ARCH_PARAMS))}")
        return arch

    @field_validator("params", mode="before")
    @classmethod
    def _typed_params(cls, params: Any, info: ValidationInfo) -> ArchParams:
        model = ARCH_PARAMS.get(info.data.get("arch"))
        if model is None or isinstance(params, model):
            return params if model else ArchParams()
        if isinstance(params, ArchParams):
            params = params.model_dump()
        from pydantic import ValidationError
        try:
            return model.model_validate(params)
        except ValidationError as exc:
            raise NestedProblems(validation_problems(exc)) from None

    def build(self) -> Arch:
        """The cosim.arch.Arch descriptor this section names."""
        return build_arch(self.arch, **self.params.model_dump())

    @model_validator(mode="after")
    def _builds(self):
        try:
            self.build()
        except (KeyError, TypeError, ValueError, ZeroDivisionError) as exc:
            raise ValueError(f"{self.arch} with these parameters cannot be built: {exc}") from None
        return self
