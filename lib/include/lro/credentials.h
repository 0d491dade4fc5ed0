/*
 * lro/credentials.h - who the client is: tokens, token providers, Google
 * credential files, API keys, quota projects and client certificates (mTLS).
 *
 * An lro_credentials object is a small bag with at most ONE token source
 * (chosen by its constructor) plus optional extras set afterwards:
 *
 *   token source (one of)              extras (any of)
 *   - none (lro_credentials_create)    - API key     -> x-goog-api-key
 *   - an access token with an expiry   - quota project -> x-goog-user-project
 *   - a token provider callback        - client certificate + key (mTLS):
 *   - a service-account JSON key         PEM text, or files re-read when
 *     (self-signed JWT, RS256)           they rotate (channel-wide only)
 *   - authorized_user JSON (refresh token)
 *   - external_account JSON (workload identity federation)
 *   - the compute-engine metadata server
 *   - Application Default Credentials (ADC)
 *
 * Use it for a whole client (lro_client_options_set_credentials) or for one
 * call (lro_call_options.credentials: one client serving several tenants;
 * grpc sends the call's headers IN ADDITION to the client's, so give a
 * multi-tenant client no token of its own; a client certificate cannot be
 * per call: LRO_ERR_INVALID_ARG when the call starts).
 *
 * Tokens travel only over TLS: a client with plaintext transport refuses
 * credentials that send a token or key (LRO_ERR_INVALID_ARG at
 * lro_client_create) unless lro_credentials_allow_plaintext() was called;
 * per-call credentials over plaintext fail the call with UNAUTHENTICATED.
 *
 * Secrets (tokens, keys, private keys, refresh tokens) are never logged and
 * never put in lro_last_error() nor in a call's status message.
 *
 * Cost: an access token, a provider's cached token, an API key and a quota
 * project are added to each call by lro-c itself, as headers, except that
 * over TLS a token of 80 bytes or more goes as grpc's access-token
 * credentials, which grpc does not re-check byte by byte (a TLS Get: +3.6 %
 * with an 18-byte token, +5.0 % at 250 bytes, +7.8 % at 1,000;
 * bench/README.md "Credentials"). grpc's plugin machinery runs only to fetch
 * or refresh a token; the Google sources (service-account JWT, refresh
 * tokens, external accounts, compute engine) are grpc's own.
 *
 * Lifetime and threads: reference-counted. Constructors return one
 * reference (*out); lro_credentials_unref releases it. Options, clients and
 * calls that use the object take their own reference, so the caller may
 * unref right after handing it over. The setters (lro_credentials_set_*,
 * allow_plaintext) are for building the object, from one thread, before it
 * is first used; once handed to lro_client_options_set_credentials or used
 * by a call, it is frozen and they return LRO_ERR_STATE. Using a frozen object (in any number of
 * clients and calls, from any thread) is thread-safe.
 *
 * Errors: every function returns LRO_OK or a negative LRO_ERR_* with the
 * reason in lro_last_error() (for a file: its path and what was wrong with
 * it; never its secret contents).
 */
#ifndef LRO_CREDENTIALS_H
#define LRO_CREDENTIALS_H

#include "lro/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lro_credentials lro_credentials;

/* An empty bag: no token. Add an API key, quota project or client
 * certificate with the setters below. */
LRO_API int lro_credentials_create(lro_credentials **out);

/* A fixed OAuth2 access token sent as "authorization: Bearer <token>"
 * (copied). expires_at_unix_ms: when it stops being valid (milliseconds
 * since the Unix epoch), 0 = never. After the expiry calls fail with
 * UNAUTHENTICATED "access token expired" without being sent. */
LRO_API int lro_credentials_create_access_token(const char *token, int64_t expires_at_unix_ms,
                                                lro_credentials **out);

/* ---- Token provider ---------------------------------------------------------
 * The library asks `fn` for a token when it has none that is fresh enough:
 *  - at most ONE request is outstanding per credentials object, however many
 *    calls wait for it (they all get its answer);
 *  - the answer is cached until shortly before its expiry: a refresh starts
 *    in the background when less than min(5 min, half its lifetime) is left
 *    (calls keep using the current token meanwhile), and calls wait for the
 *    new one only when less than min(10 s, a tenth of its lifetime) is left;
 *  - a failure (lro_token_request_fail) fails the calls that waited for it
 *    with UNAUTHENTICATED and the provider's message; the next call asks
 *    again;
 *  - a provider that never answers: waiting calls end at their deadline
 *    (DEADLINE_EXCEEDED).
 * `fn` runs on a library or grpc thread (the one starting a call) and must
 * not block: answer at once, or hand the request to another thread and
 * answer from there. It must answer every request exactly once (answer or
 * fail), also after the client was destroyed; until then the request and
 * the credentials stay allocated. A request holds a grpc_init() reference
 * that its answer gives back, which may be the process's last: let a
 * thread that answers finish before the process exits (lroctl waits for
 * its command threads at exit). `audience` is the target's service URL
 * ("https://host:port/google.longrunning.Operations"), valid during fn only.
 * ud_free(user_data), if not NULL, runs when the credentials are freed. */
typedef struct lro_token_request lro_token_request;
typedef void (*lro_token_provider_fn)(lro_token_request *req, const char *audience,
                                      void *user_data);
LRO_API int lro_credentials_create_token_provider(lro_token_provider_fn fn, void *user_data,
                                                  lro_free_fn ud_free, lro_credentials **out);
/* Answers a request with a token (copied; printable ASCII, no spaces) valid
 * until expires_at_unix_ms (0 = never expires). From any thread, also from
 * inside fn. The request is freed: do not touch it again. A bad token is
 * LRO_ERR_INVALID_ARG and the request then counts as failed (answered). */
LRO_API int lro_token_request_answer(lro_token_request *req, const char *token,
                                     int64_t expires_at_unix_ms);
/* Fails a request: waiting calls end UNAUTHENTICATED with `message` (copied,
 * must not contain the token; NULL = "token provider failed"). */
LRO_API int lro_token_request_fail(lro_token_request *req, const char *message);

/* ---- Google credential sources (grpc core does the signing/fetching) -------
 * scopes: comma-separated OAuth2 scopes, NULL = the cloud-platform scope
 * where one is needed. */

/* A service-account key (JSON text, "type": "service_account"): a
 * self-signed JWT (RS256, audience https://<host>/, one hour, re-signed
 * before expiry); no token endpoint is contacted. */
LRO_API int lro_credentials_create_service_account(const char *json, lro_credentials **out);
/* "type": "authorized_user" JSON (gcloud's user credentials): access tokens
 * from oauth2.googleapis.com with the refresh token. */
LRO_API int lro_credentials_create_authorized_user(const char *json, lro_credentials **out);
/* "type": "external_account" JSON (workload identity federation). */
LRO_API int lro_credentials_create_external_account(const char *json, const char *scopes,
                                                    lro_credentials **out);
/* Tokens from the compute-engine metadata server (metadata.google.internal). */
LRO_API int lro_credentials_create_compute_engine(lro_credentials **out);
/* A JSON file of any of the three kinds above, detected by its "type". */
LRO_API int lro_credentials_create_from_file(const char *path, const char *scopes,
                                             lro_credentials **out);
/* Application Default Credentials: $GOOGLE_APPLICATION_CREDENTIALS (a file
 * as for lro_credentials_create_from_file; an unreadable or bad file is an
 * error, not skipped), then gcloud's well-known file
 * ($HOME/.config/gcloud/application_default_credentials.json, or under
 * $CLOUDSDK_CONFIG), then the metadata server if
 * metadata.google.internal answers as one within a second (the name lookup
 * itself is not under that limit: where DNS packets are dropped it takes as
 * long as the resolver's own timeouts). Nothing found: LRO_ERR_INVALID_ARG
 * and lro_last_error() lists what was searched. Blocks: call it at start-up,
 * not from a callback.
 * Where tokens come from (grpc core fetches them, lazily on the first call,
 * again when less than a minute is left): compute engine from
 * metadata.google.internal, authorized_user from oauth2.googleapis.com
 * (grpc 1.51 hard-codes both hosts and ignores a JSON "token_uri"),
 * external_account from its "token_url". A failed fetch fails the call
 * with grpc's status (e.g. UNKNOWN carrying a DNS error when offline). */
LRO_API int lro_credentials_create_adc(const char *scopes, lro_credentials **out);

/* ---- Extras ------------------------------------------------------------ */

/* x-goog-api-key on every call (copied; printable ASCII, no spaces). */
LRO_API int lro_credentials_set_api_key(lro_credentials *c, const char *key);
/* Shortcut: lro_credentials_create + lro_credentials_set_api_key. */
LRO_API int lro_credentials_create_api_key(const char *key, lro_credentials **out);
/* x-goog-user-project on every call: the project billed for quota. */
LRO_API int lro_credentials_set_quota_project(lro_credentials *c, const char *project);
/* Client certificate chain and its private key, PEM text (copied). A key
 * that does not belong to the certificate fails the TLS handshake
 * (UNAVAILABLE on calls). */
LRO_API int lro_credentials_set_client_cert(lro_credentials *c, const char *cert_chain_pem,
                                            const char *private_key_pem);
/* The same from files, watched: grpc re-reads them every
 * refresh_interval_s seconds (0 = 600) and new connections use the new
 * certificate, without recreating the client. Both files are read once here
 * to report errors early (missing, unreadable, not PEM). roots_path (may be
 * NULL) is a PEM file of trusted server CAs, watched as well; it replaces
 * lro_client_options_set_tls's roots (with the watched files, roots given
 * as text cannot be used: pass them as a file). */
LRO_API int lro_credentials_set_client_cert_files(lro_credentials *c, const char *cert_path,
                                                  const char *key_path, const char *roots_path,
                                                  int refresh_interval_s);
/* Lets tokens and keys of these credentials go over a plaintext channel
 * (local test servers, a sidecar on loopback). Off by default. */
LRO_API int lro_credentials_allow_plaintext(lro_credentials *c);

/* ---- References ------------------------------------------------------------ */
LRO_API lro_credentials *lro_credentials_ref(lro_credentials *c); /* returns c */
LRO_API void lro_credentials_unref(lro_credentials *c);           /* NULL is fine */

/* "access token", "token provider", "service account <client_email>",
 * "authorized user", "external account", "compute engine", "none", ...:
 * what the object is, without secrets (diagnostics, lroctl -v). Static or
 * owned by the object; valid while it lives. */
LRO_API const char *lro_credentials_describe(const lro_credentials *c);

#ifdef __cplusplus
}
#endif
#endif /* LRO_CREDENTIALS_H */
