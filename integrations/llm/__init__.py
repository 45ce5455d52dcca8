"""Model calls over HTTP: the client, its cache, providers, prices and the embedded model."""

from integrations.llm.cache import RequestCache
from integrations.llm.client import CallStats, LLMClient
from integrations.llm.local_model import LocalModel, LocalModelError
from integrations.llm.prices import PriceTable
from integrations.llm.providers import Endpoint, EndpointError, route
from integrations.llm.retry import RetryPolicy
from integrations.llm.session import model_client

__all__ = [
    "CallStats",
    "Endpoint",
    "EndpointError",
    "LLMClient",
    "LocalModel",
    "LocalModelError",
    "PriceTable",
    "RequestCache",
    "RetryPolicy",
    "model_client",
    "route",
]
