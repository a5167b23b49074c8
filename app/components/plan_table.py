"""The matched-FLOPs plan as a table: one function for the two pages that show a plan.

Build & profile's "Same FLOPs, four ways" shows what each network costs (memory, predicted H200
time); the Experiment page's "Run it yourself" shows the plan its command line trains. Both read the
rows of app.services.plans.matched, so the network, d, w, r, layers and parameters are written once.
"""

from __future__ import annotations

import pandas as pd

from app.components import units
from app.components.experiment_charts import short_name


def plan_table(rows: list[dict], costs: bool = False, predicted_batches: tuple[int, ...] = ()) -> pd.DataFrame:
    """One row a network of the plan: network, d, w, r, layers, parameters and multiply-adds.

    costs=False: the multiple of the base in a column of its own ('× the base').
    costs=True: the multiple beside the multiply-adds, then activation memory (inference and training)
    and effnet.cost.predict's H200 latency at each of `predicted_batches`, labelled as predicted."""
    table = []
    for row in rows:
        columns = {
            "Network": short_name(row["name"]),
            "d": f"{row['depth']:.3g}",
            "w": f"{row['width']:.3g}",
            "r": f"{row['resolution']} px",
            "Layers": sum(row["layers"]),
            "Parameters": units.si(row["params"]),
        }
        if not costs:
            columns["Multiply-adds"] = units.si(row["macs"])
            columns["× the base"] = units.times(row["flops_multiple"])
        else:
            columns["Multiply-adds"] = f"{units.si(row['macs'])} ({units.times(row['flops_multiple'])})"
            columns["Activation memory"] = units.binary_bytes(row["activation_bytes"])
            columns["Training activations"] = units.binary_bytes(row["training_activation_bytes"])
            for batch in predicted_batches:
                columns[f"H200 batch {batch} (predicted)"] = units.duration_ms(row[f"predicted_ms_batch{batch}"])
        table.append(columns)
    return pd.DataFrame(table)
