"""What-if sweeps: run every point of a sweep file on a local process pool or a Dask cluster,
write each point as it finishes, resume what is missing, and report (see cosim.specs.sweep)."""
from cosim.sweep.runner import SweepExists, SweepOutcome, run_sweep

__all__ = ["SweepExists", "SweepOutcome", "run_sweep"]
