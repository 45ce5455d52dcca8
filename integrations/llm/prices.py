"""What a call cost: a per-model price table, built-ins overridden by ``PROMPTLOOP_PRICES``.

An unknown model's cost is ``None`` ("unknown"), never a silent 0. The embedded model
runs on this machine and costs nothing, but only there: the same name served by another
endpoint (``OPENAI_BASE_URL``) is priced like any other model, unknown unless
``PROMPTLOOP_PRICES`` names it.

    >>> PriceTable({}).cost("gpt-4o-mini", input_tokens=1000, output_tokens=500)
    0.00045
    >>> PriceTable({}).cost("some-new-model", input_tokens=1000, output_tokens=500) is None
    True
    >>> PriceTable({}).cost("smollm2-135m", input_tokens=9, output_tokens=9, embedded=True)
    0.0
"""

from __future__ import annotations

from collections.abc import Mapping

# USD per million tokens (input, output), as published by the vendor; check before trusting.
BUILTIN_PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-3.5-turbo": (0.50, 1.50),
}
# The embedded model runs on this machine: free, and said so explicitly.
EMBEDDED_PRICE: tuple[float, float] = (0.0, 0.0)


class PriceTable:
    """Prices by model name; a name with a provider prefix also matches its bare name."""

    def __init__(self, overrides: Mapping[str, tuple[float, float]]) -> None:
        self._prices = {**BUILTIN_PRICES, **overrides}

    def price(self, model: str, *, embedded: bool = False) -> tuple[float, float] | None:
        if embedded:
            return EMBEDDED_PRICE
        if model in self._prices:
            return self._prices[model]
        _, _, bare = model.rpartition("/")
        return self._prices.get(bare)

    def cost(
        self,
        model: str,
        *,
        input_tokens: int | None,
        output_tokens: int | None,
        embedded: bool = False,
    ) -> float | None:
        """USD for one call; ``embedded``: answered by the embedded model (free)."""
        price = self.price(model, embedded=embedded)
        if price is None or input_tokens is None or output_tokens is None:
            return None
        per_input, per_output = price
        return round((input_tokens * per_input + output_tokens * per_output) / 1_000_000, 10)
