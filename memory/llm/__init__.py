"""LLM and embedding providers behind one small interface.

Importing this package loads no provider SDK: adapters are imported when a
provider is first asked for (see registry.PROVIDER_CLASSES).
"""

from memory.llm.base import ContextWindowExceeded, ModelInfo, Provider, ProviderError
from memory.llm.registry import (
    ProviderConfig,
    configured_providers,
    get_provider,
    list_all_models,
    parse_handle,
    provider_for_handle,
)

__all__ = [
    "ContextWindowExceeded",
    "ModelInfo",
    "Provider",
    "ProviderConfig",
    "ProviderError",
    "configured_providers",
    "get_provider",
    "list_all_models",
    "parse_handle",
    "provider_for_handle",
]
