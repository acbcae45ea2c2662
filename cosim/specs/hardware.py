"""Chip specs (`hardware_specs/*.yaml`): device, tile, converters, controllers, bus and host.

Every section has a `sources` mapping from field name to where the number comes from; the
loader rejects a source for a field that does not exist, so notes cannot drift from the fields.
"""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from cosim.registry import BEHAVIOURS
from cosim.specs.base import (BitsPerSecond, Bytes, Farads, FrozenSpec, Fraction, Hertz, Joules, JoulesPerBit,
                              PositiveInt, Seconds, Siemens, SpecError, Volts, expect_kind, read_yaml,
                              resolve_spec, validate_mapping)


class Sourced(FrozenSpec):
    """A section whose numbers each carry a source note."""

    sources: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _sources_name_fields(self):
        unknown = sorted(set(self.sources) - set(type(self).model_fields) - {"sources"})
        if unknown:
            raise ValueError(f"sources names unknown field(s): {', '.join(unknown)}")
        return self


class DeviceSpec(Sourced):
    """One memristive device (each weight is a differential pair of two)."""

    family: str = Field(min_length=1, description="Label, e.g. 'RRAM HfOx 1T1R'.")
    g_min: Siemens = Field(description="Lowest programmable conductance of one device.")
    g_max: Siemens = Field(description="Highest programmable conductance of one device.")
    levels: PositiveInt | None = Field(128, description="Pulses from g_min to g_max; null = continuous.")
    nonlinearity_up: float = Field(0.0, ge=0.0, le=10.0, description="Step shrink exponent towards g_max.")
    nonlinearity_down: float = Field(0.0, ge=0.0, le=10.0, description="Step shrink exponent towards g_min.")
    write_noise: Fraction = Field(description="σ of one pulse's result, fraction of (g_max - g_min) of one "
                                  "device (not of the pair's weight range); n pulses: σ·√n.")
    rounding: Literal["nearest", "stochastic", "at_least_one"] = Field(
        "nearest", description="How a wanted change becomes a pulse count: nearest (NeuroSim; below half a "
        "step writes nothing), stochastic (unbiased), at_least_one (every nonzero want gets a pulse).")
    step_spread: Fraction = Field(0.0, description="Device-to-device σ of the pulse step, relative.")
    read_noise: Fraction = Field(0.0, description="σ of a read, fraction of the cell's conductance.")
    stuck_fraction: Fraction = Field(0.0, description="Cells stuck (at g_min or g_max) from the start.")
    endurance_median: float = Field(1e6, gt=0, description="Median endurance before a cell sticks, in "
                                    "`endurance_unit`s (write cycles by default).")
    endurance_unit: Literal["cycles", "pulses"] = Field(
        "cycles", description="What wears a device out: write cycles (one pulse train, or one verify "
        "iteration that pulsed it, is one) or single programming pulses.")
    endurance_sigma: float = Field(0.5, ge=0, le=5, description="σ of ln(endurance) (lognormal).")
    write_voltage: Volts = Field(description="Amplitude of a programming pulse (priced as V²·G·t).")
    pulse_width: Seconds["10 ps", "10 ms"] = Field(description="Duration of one programming pulse.")
    read_voltage: Volts = Field(description="Row voltage while reading (priced as V²·G·t).")
    model: str = Field("parametric", description="Behaviour class by name (cosim.devices.behaviours): "
                       "parametric, unidirectional (SET-only with RESET refresh, e.g. PCM), binary_sliced (MRAM).")
    drift_nu: float = Field(0.0, ge=0.0, le=1.0, description="Conductance drift G ∝ (t/t0)^-ν after a write (PCM).")
    relaxation_shift: float = Field(0.0, ge=-0.1, le=0.1,
                                    description="Mean change per ln(t/t0) after a write, fraction of (g_max - g_min).")
    relaxation_sigma: Fraction = Field(0.0, description="σ added per √ln(t/t0) after a write, fraction of (g_max - g_min).")
    drift_t0: Seconds["1 us", "1e6 s"] = Field(1.0, description="Time after a write before drift/relaxation starts, seconds.")
    reset_level: Fraction = Field(0.9, description="Unidirectional devices: RESET and re-program a pair when a "
                                  "device would be driven above this normalised conductance.")
    cells_per_weight: PositiveInt = Field(1, le=16, description="binary_sliced: binary cells (bits) per device "
                                          "of a pair; weight levels 2^cells - 1.")
    switching_error: Fraction = Field(0.0, description="binary_sliced: probability a cell's switch fails.")

    @model_validator(mode="after")
    def _bounds_ordered(self):
        if not self.g_max > self.g_min:
            raise ValueError(f"g_max ({self.g_max:g} S) must exceed g_min ({self.g_min:g} S)")
        return self

    @model_validator(mode="after")
    def _model_known(self):
        if self.model not in BEHAVIOURS:
            raise ValueError(f"model {self.model!r} unknown; known: {', '.join(sorted(BEHAVIOURS))}")
        if not BEHAVIOURS[self.model].multi_cell and self.cells_per_weight != 1:
            multi = " or ".join(e.name for e in BEHAVIOURS.entries() if e.multi_cell)
            raise ValueError(f"cells_per_weight > 1 needs model: {multi}")
        return self

    @property
    def has_drift(self) -> bool:
        """True when conductances change between writes (drift or relaxation)."""
        return bool(self.drift_nu or self.relaxation_shift or self.relaxation_sigma)

    @property
    def g_range(self) -> float:
        """g_max - g_min in siemens."""
        return self.g_max - self.g_min


class TileSpec(Sourced):
    """One crossbar array (tile) and its read timing."""

    rows: PositiveInt = Field(le=65536, description="Word lines (inputs) per tile.")
    cols: PositiveInt = Field(le=65536, description="Weight columns (each a differential pair).")
    read_time: Seconds["10 ps", "1 ms"] = Field(description="Array settling/integration per input slice, seconds.")
    spare_cols: int = Field(0, ge=0, le=65536, description="Spare columns per tile; at start the columns "
                            "with the most stuck devices are remapped onto them.")


class DacSpec(Sourced):
    """Row drivers (DACs) that apply the input slices."""

    bits: PositiveInt | None = Field(1, le=16, description="DAC resolution per slice; null = ideal analog input.")
    input_bits: PositiveInt | None = Field(8, le=32, description="Input precision; sliced into ⌈input_bits/bits⌉ slices.")
    conversion_time: Seconds["1 ps", "1 ms"] = Field(description="Settling time of one row drive per slice.")
    energy_per_conversion: Joules = Field(description="Energy of one row drive (one conversion).")

    @model_validator(mode="after")
    def _both_or_neither(self):
        if (self.bits is None) != (self.input_bits is None):
            raise ValueError("bits and input_bits must both be numbers or both be null (ideal)")
        if self.bits is not None and self.bits > self.input_bits:
            raise ValueError(f"bits ({self.bits}) cannot exceed input_bits ({self.input_bits})")
        return self

    @property
    def slices(self) -> int:
        """Input bit-slices per vector (1 for an ideal or a full-precision DAC)."""
        return 1 if self.bits is None else -(-self.input_bits // self.bits)


# SAR energy vs resolution: E(b) ∝ E_FIXED + E_STEP·2^b, fitted to the Murmann-survey SAR points
# at 22 nm (0.46 / 0.53 / 0.85 pJ at 4 / 6 / 8 b; Andrulis et al., arXiv 2404.06553; within 2 %).
# Only the shape is used, so the quoted energy of any node sets the scale.
SAR_E_FIXED = 0.434e-12
SAR_E_STEP = 1.625e-15


def energy_scale(bits: int, reference_bits: int) -> float:
    """E(bits) / E(reference_bits) of a SAR ADC under the survey fit above (dimensionless)."""
    return (SAR_E_FIXED + SAR_E_STEP * 2.0 ** bits) / (SAR_E_FIXED + SAR_E_STEP * 2.0 ** reference_bits)


class AdcSpec(Sourced):
    """Column ADCs, shared by `columns_per_adc` columns each."""

    kind: Literal["sar", "flash"] = Field("sar", description="sar: bits+1 clock cycles per conversion; flash: one.")
    bits: PositiveInt | None = Field(8, le=16, description="null = ideal (no quantisation).")
    columns_per_adc: PositiveInt = Field(8, le=65536, description="Columns multiplexed onto one ADC.")
    clock: Hertz = Field(description="ADC clock.")
    energy_per_conversion: Joules = Field(description="Joules per conversion at `energy_reference_bits`.")
    energy_reference_bits: PositiveInt = Field(
        8, le=16, description="Resolution at which energy_per_conversion was quoted; other `bits` "
                              "scale by the survey fit (see energy_at_bits).")
    full_scale: float = Field(0.125, gt=0, le=1,
                              description="Full-scale current as a fraction of rows·V_read·(g_max-g_min).")
    calibration: Literal["fixed", "per_layer"] = Field(
        "per_layer", description="fixed: full_scale for every layer; per_layer: each matrix and direction "
        "sets its full scale to calibration_headroom x the largest column current of a calibration batch "
        "(its first batch, then every recalibrate_every training steps).")
    calibration_headroom: float = Field(1.25, ge=1.0, le=100.0, description="Full scale / calibrated peak current.")
    recalibrate_every: PositiveInt = Field(50, le=1_000_000, description="Training steps between recalibrations.")
    slice_accumulation: Literal["digital", "analog"] = Field(
        "digital", description="digital: every input bit-slice is converted and the codes shift-added "
        "(NeuroSim); analog: each column adds its slices' charges with binary weights on an accumulation "
        "capacitor (charge sharing) and is converted once per input phase, so one quantisation of the "
        "accumulated value (full scale over all input bits; more ADC bits keep its resolution).")
    accumulation_energy: Joules = Field(0.0, description="Energy of adding one slice of one column onto "
                                        "its accumulation capacitor (analog slice_accumulation only).")

    @property
    def energy(self) -> float:
        """Joules per conversion at the configured `bits` (an ideal ADC is priced as 8 bits)."""
        return self.energy_per_conversion * energy_scale(self.bits or 8, self.energy_reference_bits)

    @property
    def conversion_time(self) -> float:
        """Seconds per conversion: SAR needs bits+1 clock cycles, flash one."""
        cycles = 1 if self.kind == "flash" else (self.bits or 8) + 1
        return cycles / self.clock


class WriteVerifySpec(Sourced):
    """The closed-loop (read, pulse, re-read) write controller."""

    tolerance: Fraction = Field(description="Accept when |G - target| <= tolerance·(g_max - g_min).")
    max_iterations: PositiveInt = Field(20, le=1000, description="Verify rounds before a write gives up.")
    max_pulses_per_iteration: PositiveInt = Field(30, le=10000, description="Most pulses applied in one round.")
    reads_per_verify: PositiveInt = Field(1, le=64, description="Reads averaged per verify.")


class WritePathSpec(Sourced):
    """What a programming pulse costs besides the cell's own V²·G·t (NeuroSim's write model):
    charging the lines it drives, and the losses of the supply that makes the write voltage.
    The defaults price the bare cell (no lines, an ideal supply)."""

    line_capacitance_per_cell: Farads = Field(0.0, description="Capacitance one cell adds to each line "
                                              "through it (wire segment of one cell pitch + access device), F.")
    word_line_voltage: Volts = Field(1.8, description="Swing of a selected word line during a write, V.")
    supply_efficiency: float = Field(1.0, gt=0.0, le=1.0, description="Energy delivered at the write "
                                     "voltage ÷ energy drawn (charge pump / regulator efficiency).")
    inhibit_unselected: bool = Field(False, description="1T1R inhibit: while a row takes its SET train, "
                                     "every column line of the tile not pulsed in that row is held at the write "
                                     "voltage (so the row's other cells see none), charged once per row and train.")


class BufferSpec(Sourced):
    """An on-chip SRAM activation/gradient buffer: a step's layer-to-layer traffic stays on chip
    when the activations it keeps for the backward pass fit, and crosses the link otherwise."""

    capacity: Bytes = Field(description="Bytes of activations and gradients it holds.")
    energy_per_bit: JoulesPerBit = Field(description="Energy of one bit written or read, J.")
    bandwidth: BitsPerSecond = Field(description="Bits per second written or read.")


class NearArraySpec(Sourced):
    """A near-array digital unit on the chip: it does the layers' digital work (activations,
    loss, weight gradients) and makes the write plans from the stored x and δ, so neither
    activations nor plans cross the off-chip link."""

    mac_rate: float = Field(gt=0, le=1e16, description="Multiply-accumulates per second.")
    mac_energy: Joules = Field(description="One multiply-accumulate.")
    op_energy: Joules = Field(description="One elementwise op (add, compare, activation step).")


class EapuSpec(Sourced):
    """The EaPU controller's per-weight random draw."""

    draw_energy: Joules = Field(description="Host energy of one random draw + compare, joules.")


class BusSpec(Sourced):
    """The link between the host and the chip."""

    bandwidth: BitsPerSecond = Field(description="Bits per second over the link.")
    energy_per_bit: JoulesPerBit = Field(description="Energy per bit moved.")
    latency: Seconds = Field(description="Fixed set-up time of one transfer, seconds.")
    weight_bits: PositiveInt = Field(16, le=64, description="Bits per value moved (activations, updates).")
    address_bits: PositiveInt = Field(16, le=64, description="Bits to name a cell in a sparse write list.")


class HostSpec(Sourced):
    """The digital host: FP32 work the chip does not do (updates, norms, activations)."""

    mac_rate: float = Field(gt=0, le=1e16, description="Multiply-accumulates per second.")
    mac_energy: Joules = Field(description="One FP32 multiply-accumulate on the host.")
    op_energy: Joules = Field(description="One elementwise FP32 op (add, compare, activation step).")


class HardwareSpec(FrozenSpec):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    fidelity: Literal["transaction", "detailed"] = Field(
        "transaction", description="transaction: one event per tile operation; detailed: one per "
        "conversion slot, pulse and verify read (small configurations; same totals).")
    mvm_numerics: Literal["exact", "auto"] = Field(
        "exact", description="exact: every input bit-slice read, noised and converted (the model); auto: "
        "per product, input phase and tile-row block, one aggregated product with the same mean and variance "
        "where a run-time check finds the read noise dithers the ADC (σ ≥ LSB/2) and nothing near clipping, "
        "exact elsewhere (docs/analog_mvm_kernel.md; the summary lists per layer what ran aggregated and why not).")
    device: DeviceSpec
    tile: TileSpec
    dac: DacSpec
    adc: AdcSpec
    write_verify: WriteVerifySpec
    write_path: WritePathSpec = WritePathSpec()
    eapu: EapuSpec
    bus: BusSpec
    host: HostSpec
    buffer: BufferSpec | None = Field(None, description="On-chip activation buffer; null = every activation "
                                      "crosses the off-chip link (host-centric chip).")
    near_array: NearArraySpec | None = Field(None, description="Near-array digital unit; null = the host "
                                             "does the digital work and makes the write plans.")

    @model_validator(mode="after")
    def _buffer_needs_a_unit(self):
        if self.buffer is not None and self.near_array is None:
            raise ValueError("buffer needs near_array: without an on-chip digital unit every activation "
                             "goes to the host for its nonlinearity anyway")
        return self

    @model_validator(mode="after")
    def _adc_fits_tile(self):
        if self.adc.columns_per_adc > self.tile.cols:
            raise ValueError(f"adc.columns_per_adc ({self.adc.columns_per_adc}) exceeds tile.cols "
                             f"({self.tile.cols}): an ADC cannot serve more columns than exist")
        return self

    @property
    def adcs_per_tile(self) -> int:
        return -(-self.tile.cols // self.adc.columns_per_adc)


def load_hardware(path: str | Path) -> HardwareSpec:
    """Load a chip spec; `extends: other.yaml` (relative to the file) starts from another chip
    and overrides per field. An overridden field must bring its own source note."""
    path = resolve_spec(path, "hardware")
    expect_kind(read_yaml(path), path, "hardware")
    return validate_mapping(HardwareSpec, resolve_extends(Path(path)), path)


def resolve_extends(path: Path, seen: tuple[Path, ...] = ()) -> dict:
    data = read_yaml(path)
    parent_name = data.pop("extends", None)
    if parent_name is None:
        return data
    if not isinstance(parent_name, str):
        raise SpecError(path, [("extends", "must be a file name (string)")])
    parent_path = (path.parent / parent_name).resolve()
    if parent_path in seen or parent_path == path.resolve():
        raise SpecError(path, [("extends", f"circular: {parent_name} extends back to this file")])
    if not parent_path.exists():
        raise SpecError(path, [("extends", f"file not found: {parent_path}")])
    merged = resolve_extends(parent_path, seen + (path.resolve(),))
    problems = []
    for section, values in data.items():
        if isinstance(values, dict) and isinstance(merged.get(section), dict):
            sources = dict(merged[section].get("sources", {}))
            for key in values:
                if key != "sources":
                    sources.pop(key, None)
            sources.update(values.get("sources", {}))
            unsourced = sorted(k for k in values if k != "sources" and k not in sources
                               and k in merged[section].get("sources", {}))
            problems += [(f"{section}.{k}", f"overrides {parent_name} without a note in {section}.sources")
                         for k in unsourced]
            merged[section] = {**merged[section], **values, "sources": sources}
        else:
            merged[section] = values
    if problems:
        raise SpecError(path, problems)
    return merged
