"""AAITI settings: every knob comes from the environment, with safe defaults.

Two modes, chosen by ``AAITI_ENV``:

* ``development`` (default): a SECRET_KEY is generated once into ``var/``, SQLite under
  ``var/``, Redis on 127.0.0.1:6379 (``make run`` starts an embedded one when none
  answers), readable log lines.
* ``production``: SECRET_KEY and ALLOWED_HOSTS are required, cookies are Secure, HSTS
  and the SSL redirect are on, logs are JSON lines. ``manage.py check --deploy``
  reports nothing in this mode.

The README lists every variable with its default.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("AAITI_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, not {raw!r}") from exc


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


AAITI_ENV = env_str("AAITI_ENV", "development")
if AAITI_ENV not in {"development", "production"}:
    raise ImproperlyConfigured("AAITI_ENV must be development or production")
PRODUCTION = AAITI_ENV == "production"
TESTING = env_bool("AAITI_TESTING", False)


def _secret_key() -> str:
    key = env_str("SECRET_KEY")
    if key:
        return key
    if PRODUCTION:
        raise ImproperlyConfigured("SECRET_KEY must be set when AAITI_ENV=production")
    # Development: generated once, kept in var/ so sessions survive restarts.
    path = VAR_DIR / "secret_key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(50))
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "" if PRODUCTION else "127.0.0.1,localhost")
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set when AAITI_ENV=production")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "daphne",
    # Django admin behind a second factor (apps/accounts/admin_site.py).
    "apps.accounts.admin_site.TwoFactorAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "corsheaders",
    "django_htmx",
    "template_partials",
    "channels",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "apps.accounts",
    "apps.audit",
    "apps.system",
    "apps.market",
    "apps.mlmodels",
    "apps.backtests",
    "apps.bots",
    "apps.webhooks",
]

# Kept short on purpose: under ASGI each sync middleware costs two thread hops
# (../shared/PERFORMANCE.md).
MIDDLEWARE = [
    "apps.system.middleware.RequestLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Below WhiteNoise (static files come precompressed and never reach it), above
    # everything that writes the body. Django's gzip pads each response with random
    # bytes against BREACH (since 4.2); WebSockets never pass through it.
    "django.middleware.gzip.GZipMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "apps.accounts.middleware.TwoFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "apps.audit.access.DeniedAccessAuditMiddleware",
]

ROOT_URLCONF = "aaiti.urls"
ASGI_APPLICATION = "aaiti.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "apps.system.context_processors.site",
            ],
            "builtins": ["apps.system.templatetags.aaiti"],
        },
    },
]

# --- Database -------------------------------------------------------------------

DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'aaiti.sqlite3'}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=0)}

# The seed's pragmas, applied to every new SQLite connection. IMMEDIATE transactions
# take the write lock at BEGIN, and the 20 s busy timeout makes a second writer wait
# for it instead of failing with "database is locked".
SQLITE_PRAGMAS = {
    # These two take effect only on a new, empty file (before its first table, and
    # before WAL, which fixes the page size): the file is then created with them.
    # On an existing file they change nothing. apps/system/maintenance.py.
    "page_size": "4096",
    "auto_vacuum": "INCREMENTAL",
    "journal_mode": "WAL",
    "synchronous": "NORMAL",
    "cache_size": "-64000",
    "temp_store": "MEMORY",
    "mmap_size": "268435456",
    "foreign_keys": "ON",
    "busy_timeout": "20000",
}
SQLITE_TIMEOUT_SECONDS = 20


def sqlite_options() -> dict[str, object]:
    return {
        "init_command": "".join(f"PRAGMA {k}={v};" for k, v in SQLITE_PRAGMAS.items()),
        "transaction_mode": "IMMEDIATE",
        "timeout": SQLITE_TIMEOUT_SECONDS,
    }


if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = sqlite_options()
    DATABASES["default"]["TEST"] = {"NAME": env_str("AAITI_TEST_DB_NAME") or None}

# PostgreSQL: Django's own connection pool (psycopg_pool), one per process: a request,
# a task or a feed step borrows a connection and gives it back when Django closes it
# (CONN_MAX_AGE stays 0). DB_POOL_MAX_SIZE=0 turns it off. Celery's prefork children
# close their pool around each task (Celery's Django fixup), so a forked child never
# shares a parent's socket. Connections are checked before they are lent, so a
# restarted PostgreSQL costs no failed request.
DB_POOL_MIN_SIZE = env_int("DB_POOL_MIN_SIZE", 1)
DB_POOL_MAX_SIZE = env_int("DB_POOL_MAX_SIZE", 10)
DB_POOL_TIMEOUT = env_int("DB_POOL_TIMEOUT", 30)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and (
    DB_POOL_MAX_SIZE > 0
):
    if not 0 <= DB_POOL_MIN_SIZE <= DB_POOL_MAX_SIZE:
        raise ImproperlyConfigured("DB_POOL_MIN_SIZE must be 0 to DB_POOL_MAX_SIZE")
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": DB_POOL_MIN_SIZE,
        "max_size": DB_POOL_MAX_SIZE,
        "timeout": DB_POOL_TIMEOUT,
    }
    # With a pool, Django passes this on as the pool's check of each lent connection.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

# --- Redis: Celery, channel layer, cache, rate-limit counters -------------------------

REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "aaiti"),
        "TIMEOUT": 300,
    }
}

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            # A pooled connection idle for 5 s is pinged before use, so one left
            # stale by a Redis restart is replaced instead of failing a socket.
            "hosts": [{"address": REDIS_URL, "health_check_interval": 5}],
            "prefix": env_str("CHANNELS_PREFIX", "aaiti-asgi"),
            "capacity": 200,
            "expiry": 30,
        },
    }
}

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", REDIS_URL)
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_TASK_ACKS_LATE = True
# Nothing reads task results (jobs keep their state in the database); storing them
# would make every enqueue subscribe to a result channel in Redis.
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 3600)
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 60
# Longer than the longest job's time limit, so a running job is not redelivered.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_TASK_TIME_LIMIT + 600}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE: dict[str, dict] = {
    "flush-expired-tokens": {
        "task": "apps.accounts.tasks.flush_expired_tokens",
        "schedule": 6 * 3600,
    },
    "backup-database": {
        "task": "apps.system.tasks.backup_database",
        "schedule": crontab(hour=3, minute=17),
    },
    "optimize-database": {
        "task": "apps.system.tasks.optimize_database",
        "schedule": crontab(hour="*/6", minute=41),
    },
    "mlmodels-score-predictions": {
        "task": "apps.mlmodels.tasks.score_predictions_task",
        "schedule": 60,
    },
    "mlmodels-run-schedules": {
        "task": "apps.mlmodels.tasks.run_schedules_task",
        "schedule": 600,
    },
    "webhooks-retry-due": {
        "task": "apps.webhooks.tasks.retry_due_task",
        "schedule": 60,
    },
    "webhooks-prune-deliveries": {
        "task": "apps.webhooks.tasks.prune_deliveries_task",
        "schedule": crontab(hour=3, minute=41),
    },
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# --- Auth -----------------------------------------------------------------------

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"
    },
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "accounts:login"

# Rate limits ("count/period", period s, m, h or d), counted in the shared cache.
RATELIMIT_LOGIN_IP = env_str("RATELIMIT_LOGIN_IP", "30/m")
RATELIMIT_LOGIN_ACCOUNT = env_str("RATELIMIT_LOGIN_ACCOUNT", "5/5m")
RATELIMIT_SIGNUP_IP = env_str("RATELIMIT_SIGNUP_IP", "10/h")
# Wrong second-factor codes per account (session sign-in and API tokens alike).
RATELIMIT_OTP_ACCOUNT = env_str("RATELIMIT_OTP_ACCOUNT", "5/5m")
# Name shown in authenticator apps next to the account's email.
OTP_TOTP_ISSUER = env_str("OTP_TOTP_ISSUER", "AAITI")
RATELIMIT_ENABLE = env_bool("RATELIMIT_ENABLE", True)
RATELIMIT_USE_CACHE = "default"
# Proxies whose X-Forwarded-For we believe; anything else and the socket address wins.
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.accounts.authentication.DenylistJWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "apps.accounts.permissions.ViewerReadOnly",
    ],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.MultiPartParser",
        "rest_framework.parsers.FormParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "apps.system.api.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=15),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=1),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
    "ALGORITHM": "HS256",
    "SIGNING_KEY": env_str("JWT_SIGNING_KEY") or SECRET_KEY,
    "AUTH_HEADER_TYPES": ("Bearer",),
    # A token carries a digest of the password hash: a password change revokes it.
    "CHECK_REVOKE_TOKEN": True,  # nosec B105 - a flag, not a password
    "CHECK_USER_IS_ACTIVE": True,
    "TOKEN_OBTAIN_SERIALIZER": "apps.accounts.api.TokenObtainSerializer",  # nosec B105 - a class path
    "TOKEN_REFRESH_SERIALIZER": "apps.accounts.api.TokenRefreshSerializer",  # nosec B105 - a class path
}

SPECTACULAR_SETTINGS = {
    "TITLE": "AAITI API",
    "DESCRIPTION": "Auto AI Trading Interface: market data, models, backtests, bots.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The contract is public; every operation in it still requires its own auth.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    # Swagger UI and ReDoc are served from our own static files, never a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {"TimeframeEnum": "apps.market.models.TIMEFRAME_CHOICES"},
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "apps.system.schema.document_errors",
    ],
}

# --- Security -------------------------------------------------------------------

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", PRODUCTION)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", PRODUCTION)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000 if PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = PRODUCTION
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
if TRUSTED_PROXIES:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# The health probe and the Prometheus scrape are plain HTTP inside the container network.
SECURE_REDIRECT_EXEMPT = [r"^api/health$", r"^metrics$"]
SILENCED_SYSTEM_CHECKS = (
    [] if env_bool("SECURE_HSTS_PRELOAD", False) else ["security.W021"]
)

CORS_ALLOWED_ORIGINS = env_list("CORS_ALLOWED_ORIGINS")
CORS_URLS_REGEX = r"^/api/.*$"

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        # plotly and the API docs inject <style> rules at run time; inline styles are
        # allowed, inline script never is.
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}

# --- Static files -----------------------------------------------------------------

STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT") or VAR_DIR / "static")
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "apps.system.staticfinders.PlotlyFinder",
]
# Development serves straight from the source folders; production from collectstatic.
WHITENOISE_USE_FINDERS = not PRODUCTION
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
MEDIA_ROOT = VAR_DIR / "media"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

# --- Logging ----------------------------------------------------------------------

LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
LOG_FORMAT = env_str("LOG_FORMAT", "json" if PRODUCTION else "text")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {
                "asctime": "time",
                "levelname": "level",
                "name": "logger",
            },
        },
        "text": {"format": "%(asctime)s %(levelname)-7s %(name)s: %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Our own request log replaces these (one line per request, with an id).
        "django.request": {"level": "ERROR"},
        "django.server": {"level": "WARNING"},
        "daphne.access": {"level": "WARNING"},
    },
}

# --- AAITI ------------------------------------------------------------------------

MARKET_IMPORT_MAX_BYTES = env_int("MARKET_IMPORT_MAX_BYTES", 200_000_000)
DATA_UPLOAD_MAX_MEMORY_SIZE = 5_000_000  # form fields; files stream to disk past 2.5 MB
# The feed: replay window, ticks per replayed bar, staleness, CoinGecko access.
REPLAY_DAYS = env_int("REPLAY_DAYS", 180)
REPLAY_TICKS_PER_BAR = env_int("REPLAY_TICKS_PER_BAR", 6)
# A price older than this is stale: health says so, pages and the API mark it, and
# bots neither fill nor place orders on it (apps/bots/stale.py).
FEED_STALE_SECONDS = env_int("FEED_STALE_SECONDS", 120)
COINGECKO_API_KEY = env_str("COINGECKO_API_KEY")
COINGECKO_PLAN = env_str("COINGECKO_PLAN", "demo")
COINGECKO_CALLS_PER_MINUTE = env_int("COINGECKO_CALLS_PER_MINUTE", 30)
COINGECKO_BASE_URL = env_str("COINGECKO_BASE_URL")
COINGECKO_MIN_POLL_SECONDS = env_int("COINGECKO_MIN_POLL_SECONDS", 10)

# /metrics: a bearer token, or else only these client addresses.
METRICS_TOKEN = env_str("METRICS_TOKEN")
METRICS_ALLOWED_IPS = env_list("METRICS_ALLOWED_IPS", "127.0.0.1,::1")

# Soft time limit of one model training run, seconds (the task fails clearly past it).
MODEL_TRAINING_TIME_LIMIT = env_int("MODEL_TRAINING_TIME_LIMIT", 1800)

BACKUP_DIR = Path(env_str("BACKUP_DIR") or VAR_DIR / "backups")
BACKUP_KEEP_DAILY = env_int("BACKUP_KEEP_DAILY", 7)
BACKUP_KEEP_WEEKLY = env_int("BACKUP_KEEP_WEEKLY", 4)

DEMO_USER_EMAIL = env_str("DEMO_USER_EMAIL", "demo@aaiti.local")
DEMO_USER_PASSWORD = env_str("DEMO_USER_PASSWORD")

# Webhooks: https only and public addresses only unless these say otherwise (local
# development and tests); seconds between attempts (one more attempt than delays).
WEBHOOK_ALLOW_HTTP = env_bool("WEBHOOK_ALLOW_HTTP", False)
WEBHOOK_ALLOW_PRIVATE_TARGETS = env_bool("WEBHOOK_ALLOW_PRIVATE_TARGETS", False)
WEBHOOK_TIMEOUT_SECONDS = env_int("WEBHOOK_TIMEOUT_SECONDS", 5)
WEBHOOK_RETRY_DELAYS = [
    float(x) for x in env_list("WEBHOOK_RETRY_DELAYS", "10,60,300,1800")
]
WEBHOOK_MAX_ENDPOINTS_PER_USER = env_int("WEBHOOK_MAX_ENDPOINTS_PER_USER", 10)
WEBHOOK_SECRET_MIN_LENGTH = env_int("WEBHOOK_SECRET_MIN_LENGTH", 16)
WEBHOOK_DELIVERY_RETENTION_DAYS = env_int("WEBHOOK_DELIVERY_RETENTION_DAYS", 30)
