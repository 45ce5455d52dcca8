"""Regression sweeps: which prompts, against which baseline, what a sweep found and says.

Modules load on their own (``roles.sweep.policy`` is read by the suite parser, which
the others build on), so this package imports none of them.
"""
