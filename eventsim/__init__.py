"""eventsim: exact event-driven spiking neural networks."""
__version__ = "0.1.0"
