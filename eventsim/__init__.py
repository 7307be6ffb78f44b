"""eventsim: exact event-driven spiking neural networks.

Current-based LIF neurons with exponential synaptic currents, simulated exactly (closed-form state
between events, spike times by bracketed root finding), with EventProp gradients, EGRU, NTT
connectomes and a Loihi/Lava path. Times are in ms, voltages dimensionless.
"""
__version__ = "0.1.0"

from .params import LIFParams
from .spikes import SpikeBatch
from .network import Network, Population, Projection, psp_peak
from .connectome import Connectome, load_connectome
from .result import Result
from .simulate import simulate
from .io import load, load_network, load_spikes, save_spikes
from . import optim, losses, eventprop, train, data, connectivity, analysis
from .egru import EGRU

__all__ = [
    "LIFParams", "SpikeBatch", "Network", "Population", "Projection", "psp_peak", "Connectome",
    "load_connectome", "Result", "simulate", "load", "load_network", "load_spikes", "save_spikes", "optim", "losses", "eventprop", "train", "data", "connectivity", "analysis", "EGRU",
]
