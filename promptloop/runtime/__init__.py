"""The runtime on one machine: ``promptloop serve`` and finding it."""
