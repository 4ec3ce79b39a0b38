"""The progress bar of the host loops (training, tournaments)."""
from __future__ import annotations

import tqdm


def progress_bar(total: int, initial: int = 0, *, disable: bool = False, unit: str = "it",
                 desc: str = "training"):
    """Done/total (iterations, or games for a tournament) with the rate and the ETA (tqdm's)."""
    return tqdm.tqdm(total=total, initial=initial, unit=unit, dynamic_ncols=True,
                     disable=disable, desc=desc)
