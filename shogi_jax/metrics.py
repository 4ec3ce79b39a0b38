"""Training metrics on the host: one JSON line and one TensorBoard scalar set per iteration, and a
progress bar. Values are computed on device (see `shogi_jax.iteration`); here they are written."""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

import tqdm
from tensorboardX import SummaryWriter

METRICS_FILE = "metrics.jsonl"
TENSORBOARD_DIR = "tensorboard"


class MetricsWriter:
    """Appends `metrics.jsonl` and TensorBoard event files under the run directory."""

    def __init__(self, run_dir: str | os.PathLike[str], *, purge_from: int | None = None):
        """purge_from: on resume, the first iteration to be redone; TensorBoard hides the events
        an interrupted run wrote from there on."""
        self.run_dir = Path(run_dir)
        self._jsonl = open(self.run_dir / METRICS_FILE, "a", encoding="utf-8")
        self._tensorboard = SummaryWriter(str(self.run_dir / TENSORBOARD_DIR),
                                          purge_step=purge_from)

    def write(self, iteration: int, env_steps: int, metrics: dict[str, float]) -> None:
        """One record: `iteration` (1-based count of completed iterations) is the x axis."""
        record = {"iteration": iteration, "env_steps": env_steps}
        record.update({name: _json_number(value) for name, value in sorted(metrics.items())})
        self._jsonl.write(json.dumps(record) + "\n")
        self._jsonl.flush()
        for name, value in metrics.items():
            self._tensorboard.add_scalar(name, value, global_step=iteration)
        self._tensorboard.flush()

    def text(self, tag: str, text: str, iteration: int) -> None:
        """A text summary (TensorBoard's Text tab), shown verbatim."""
        indented = "\n".join("    " + line for line in text.splitlines())  # markdown code block
        self._tensorboard.add_text(tag, indented, global_step=iteration)
        self._tensorboard.flush()

    def close(self) -> None:
        self._jsonl.close()
        self._tensorboard.close()


def _json_number(value: float):
    value = float(value)
    return value if math.isfinite(value) else repr(value)  # JSON has no NaN/Inf literals


def read_metrics(run_dir: str | os.PathLike[str]) -> list[dict]:
    """The records of `metrics.jsonl`, in order."""
    with open(Path(run_dir) / METRICS_FILE, encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def progress_bar(total: int, initial: int = 0, *, disable: bool = False, unit: str = "it",
                 desc: str = "training"):
    """Done/total (iterations, or games for a tournament) with the rate and the ETA (tqdm's)."""
    return tqdm.tqdm(total=total, initial=initial, unit=unit, dynamic_ncols=True,
                     disable=disable, desc=desc)
