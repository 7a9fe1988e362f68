"""The analytic PIM cost model (docs/pim.md): latency, energy and area of an architecture on a ReRAM
processing-in-memory design, from public component figures. A proxy, not a simulator.

pim_cost / PimCost / OpPim            an architecture's cost, per op and in total
HardwareProfile / load_profile        the constants, as data (search_spaces/hardware/*.yaml)
Part and the component formulas       static MVM, dynamic products (xbar / dpe), vector unit, embeddings
Knobs / NAIVE                         per-block precision and mapping (nasrec.space.codesign)
"""

from nasrec.cost.pim.components import Part
from nasrec.cost.pim.estimate import HEAD_KNOBS, OpPim, PimCost, pim_cost
from nasrec.cost.pim.profile import DEFAULT_PROFILE, HardwareProfile, list_profiles, load_profile
from nasrec.space.codesign import NAIVE, Knobs

__all__ = [
    "DEFAULT_PROFILE",
    "HEAD_KNOBS",
    "NAIVE",
    "HardwareProfile",
    "Knobs",
    "OpPim",
    "Part",
    "PimCost",
    "list_profiles",
    "load_profile",
    "pim_cost",
]
