"""Share of MVM energy / ADC conversions in the ADC calibration passes: digits_mlp, 400 steps."""
import cosim.api as api
from cosim.specs.base import read_yaml
from cosim.specs.hardware import HardwareSpec
from cosim.specs.workload import WorkloadSpec
wl_raw = read_yaml("workloads/digits_mlp.yaml"); wl_raw["methods"] = ["bp_open_loop", "eapu"]
res = api.run(WorkloadSpec.model_validate(wl_raw), HardwareSpec.model_validate(read_yaml("hardware_specs/rram_180nm.yaml")))
for run in res.runs:
    tx, acts = run.ledger.transactions(), run.ledger.actions()
    acts = acts[acts.step >= 0].assign(op=tx.op.to_numpy()[acts[acts.step >= 0].tx.to_numpy()])
    cal = acts.op.str.contains("adc_calibration")
    adc = acts.action == "adc_conversion"
    print(run.method, "calibration ops' share of ADC conversions %.4f, of training energy %.4f; calibration J %.3e, total J %.3e"
          % (acts[cal & adc]["count"].sum() / acts[adc]["count"].sum(), acts[cal].energy_j.sum() / acts.energy_j.sum(),
             acts[cal].energy_j.sum(), acts.energy_j.sum()))
    print("  lifetime", {k: v for k, v in res.summary["methods"][run.method]["lifetime"].items() if "rate" in k or "unit" in k})
