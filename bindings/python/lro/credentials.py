"""Credentials for lro.Client (lro/credentials.h): tokens, token providers
written in Python, Google credential files, API keys, quota project, client
certificates.

    creds = lro.credentials.token_provider(lambda audience: ("ya29...", expiry))
    creds = lro.credentials.from_google_auth(google_auth_credentials)
    creds = lro.credentials.from_file("sa.json")
    async with lro.Client(target, credentials=creds) as c: ...

Token providers run OFF the event loop and off lro-c's threads: lro-c asks
(at most one request in flight per Credentials, cached until shortly before
the token's expiry) and a worker thread of this module calls your function,
which may block (an HTTP refresh, a subprocess). It returns
(token, expires_at) with expires_at a Unix time in seconds (float), a
datetime (naive = UTC) or None (never expires); an exception fails the calls
waiting for the token with UNAUTHENTICATED and str(exception) as message
(never put the token in it).

A Credentials object is immutable once handed to a Client; it may be shared
by several clients. Secrets are never put in error messages.
"""
import calendar
import ctypes
import datetime
import itertools
import threading
from concurrent.futures import ThreadPoolExecutor
from ctypes import CFUNCTYPE, POINTER, c_char_p, c_int, c_int64, c_void_p

from . import _lib as _c

_L = _c.lib


def _fn(name, restype, *argtypes):
    f = getattr(_L, name)
    f.restype = restype
    f.argtypes = list(argtypes)
    return f


_P = c_void_p
_PP = POINTER(c_void_p)
# void (*lro_token_provider_fn)(lro_token_request *req, const char *audience, void *ud)
_PROVIDER_CB = CFUNCTYPE(None, c_void_p, c_char_p, c_void_p)
_FREE_CB = CFUNCTYPE(None, c_void_p)

_create = _fn("lro_credentials_create", c_int, _PP)
_access_token = _fn("lro_credentials_create_access_token", c_int, c_char_p, c_int64, _PP)
_provider = _fn("lro_credentials_create_token_provider", c_int, _PROVIDER_CB, c_void_p,
                _FREE_CB, _PP)
_answer = _fn("lro_token_request_answer", c_int, c_void_p, c_char_p, c_int64)
_fail = _fn("lro_token_request_fail", c_int, c_void_p, c_char_p)
_service_account = _fn("lro_credentials_create_service_account", c_int, c_char_p, _PP)
_authorized_user = _fn("lro_credentials_create_authorized_user", c_int, c_char_p, _PP)
_external_account = _fn("lro_credentials_create_external_account", c_int, c_char_p, c_char_p,
                        _PP)
_compute_engine = _fn("lro_credentials_create_compute_engine", c_int, _PP)
_from_file = _fn("lro_credentials_create_from_file", c_int, c_char_p, c_char_p, _PP)
_adc = _fn("lro_credentials_create_adc", c_int, c_char_p, _PP)
_set_api_key = _fn("lro_credentials_set_api_key", c_int, _P, c_char_p)
_set_quota = _fn("lro_credentials_set_quota_project", c_int, _P, c_char_p)
_set_cert = _fn("lro_credentials_set_client_cert", c_int, _P, c_char_p, c_char_p)
_set_cert_files = _fn("lro_credentials_set_client_cert_files", c_int, _P, c_char_p, c_char_p,
                      c_char_p, c_int)
_allow_plaintext = _fn("lro_credentials_allow_plaintext", c_int, _P)
_unref = _fn("lro_credentials_unref", None, _P)
_describe = _fn("lro_credentials_describe", c_char_p, _P)
_last_error = _fn("lro_last_error", c_char_p)


class CredentialsError(ValueError):
    """A credentials constructor or setter refused its input; the message
    says what was wrong (which file, which field), never a secret."""

    def __init__(self, rc, message):
        super().__init__(message)
        self.result = rc


def _chk(rc):
    if rc != 0:
        text = (_last_error() or b"").decode("utf-8", "replace")
        raise CredentialsError(rc, text or "lro-c error %d" % rc)


def _b(s):
    return None if s is None else (s.encode() if isinstance(s, str) else bytes(s))


# ---- token providers ------------------------------------------------------------
# One worker pool for every provider: a provider's function may block.
# Providers are kept here by key until lro-c frees their credentials (the
# ud_free callback), so a callback never reaches a collected object.
_providers = {}
_keys = itertools.count(1)
_lock = threading.Lock()
_pool = None


def _workers():
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="lro-token")
        return _pool


def _expiry_ms(expires_at):
    if expires_at is None:
        return 0
    if isinstance(expires_at, datetime.datetime):
        if expires_at.tzinfo is None:  # google-auth's expiry: naive UTC
            return int(calendar.timegm(expires_at.timetuple()) * 1000)
        return int(expires_at.timestamp() * 1000)
    return int(float(expires_at) * 1000)


def _run(fn, req, audience):
    try:
        token, expires_at = fn(audience)
        rc = _answer(req, _b(token), _expiry_ms(expires_at))
        del rc  # an unusable token already failed the request, with a text
    except Exception as e:  # noqa: B902 (any failure of the provider ends its calls)
        msg = str(e) or type(e).__name__
        _fail(req, msg.encode("utf-8", "replace")[:500])


@_PROVIDER_CB
def _on_request(req, audience, key):
    with _lock:
        fn = _providers.get(key)
    aud = audience.decode("utf-8", "replace") if audience else ""
    if fn is None:
        _fail(req, b"python token provider is gone")
        return
    try:
        _workers().submit(_run, fn, req, aud)
    except RuntimeError:  # interpreter shutting down
        _fail(req, b"python is shutting down")


@_FREE_CB
def _on_free(key):
    with _lock:
        _providers.pop(key, None)


class Credentials:
    """An lro_credentials reference. Build with the functions of this module,
    adjust with the setters (before handing it to a Client), pass as
    lro.Client(..., credentials=creds)."""

    def __init__(self, ptr):
        self._ptr = ptr

    def __del__(self):
        p, self._ptr = getattr(self, "_ptr", None), None
        if p:
            _unref(p)

    @property
    def description(self):
        """What it is ("service account robot@...", "token provider"), no secrets."""
        return _describe(self._ptr).decode()

    def set_api_key(self, key):
        _chk(_set_api_key(self._ptr, _b(key)))
        return self

    def set_quota_project(self, project):
        _chk(_set_quota(self._ptr, _b(project)))
        return self

    def set_client_cert(self, cert_chain_pem, private_key_pem):
        _chk(_set_cert(self._ptr, _b(cert_chain_pem), _b(private_key_pem)))
        return self

    def set_client_cert_files(self, cert_path, key_path, roots_path=None, refresh_interval=0):
        _chk(_set_cert_files(self._ptr, _b(cert_path), _b(key_path), _b(roots_path),
                             int(refresh_interval)))
        return self

    def allow_plaintext(self):
        """Lets tokens and keys travel over a plaintext channel (loopback tests)."""
        _chk(_allow_plaintext(self._ptr))
        return self


def _make(fn, *args):
    out = c_void_p()
    _chk(fn(*args, ctypes.byref(out)))
    return Credentials(out.value)


def none():
    """No token: add an API key, quota project or client certificate."""
    return _make(_create)


def access_token(token, expires_at=None):
    return _make(_access_token, _b(token), _expiry_ms(expires_at))


def api_key(key):
    return none().set_api_key(key)


def token_provider(fn):
    """fn(audience) -> (token, expires_at); runs on a worker thread."""
    if not callable(fn):
        raise TypeError("token_provider: fn must be callable")
    key = next(_keys)
    with _lock:
        _providers[key] = fn
    out = c_void_p()
    rc = _provider(_on_request, c_void_p(key), _on_free, ctypes.byref(out))
    if rc != 0:
        with _lock:
            _providers.pop(key, None)
        _chk(rc)
    return Credentials(out.value)


def from_google_auth(creds, request=None):
    """Adapter for a google-auth credentials object (google.auth.credentials.
    Credentials: .valid, .refresh(request), .token, .expiry). request: a
    google.auth.transport Request (default: google.auth.transport.requests
    .Request()). The refresh runs on a worker thread, never on the loop."""
    lock = threading.Lock()

    def provide(audience):
        del audience
        with lock:
            if not creds.valid:
                req = request
                if req is None:
                    from google.auth.transport.requests import Request  # noqa: WPS433
                    req = Request()
                creds.refresh(req)
            return creds.token, creds.expiry

    out = token_provider(provide)
    quota = getattr(creds, "quota_project_id", None)
    if quota:
        out.set_quota_project(quota)
    return out


def service_account(json_text):
    return _make(_service_account, _b(json_text))


def authorized_user(json_text):
    return _make(_authorized_user, _b(json_text))


def external_account(json_text, scopes=None):
    return _make(_external_account, _b(json_text), _b(scopes))


def compute_engine():
    return _make(_compute_engine)


def from_file(path, scopes=None):
    """service_account, authorized_user or external_account JSON, by its type."""
    return _make(_from_file, _b(path), _b(scopes))


def adc(scopes=None):
    """Application Default Credentials (see lro_credentials_create_adc)."""
    return _make(_adc, _b(scopes))
