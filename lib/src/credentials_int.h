/* credentials_int.h - what the client and call layers use of credentials.c. */
#ifndef LRO_CREDENTIALS_INT_H
#define LRO_CREDENTIALS_INT_H

#include <grpc/grpc.h>
#include <grpc/grpc_security.h>

#include "lro/lro.h"
#include "lro_int.h"

/* The channel credentials of a client: plaintext or TLS (roots, client
 * certificate, static or watched files), composed with the call credentials
 * of o->credentials when they are grpc's own kind (Google sources); lro-c's
 * own kinds (tokens, providers, API key, quota project) are handed back in
 * *per_call (a reference) for the calls to apply. LRO_OK and *out (the
 * caller releases it), or an error with its text (tokens over plaintext
 * without allow_plaintext, ...). */
LRO_HIDDEN int lro_creds_channel(const lro_client_options *o, grpc_channel_credentials **out,
                                 lro_credentials **per_call);
/* Per-call credentials: checks they can be per call (no client certificate)
 * and builds their grpc call credentials (freezing the object). */
LRO_HIDDEN int lro_creds_prepare_call(lro_credentials *c);
/* The headers an attempt can carry itself (lro-c's own token sources and
 * extras, while the cached token needs no fetch or refresh): fills md (at
 * most LRO_CREDS_MAX_MD, new references the caller unrefs) and returns how
 * many, 0 when there is nothing to send, or -1 when this attempt must go
 * through grpc's call credentials instead (lro_creds_apply_slow). With
 * tls_call (a TLS channel's call, and no other credentials of the attempt
 * carrying a token) a long token goes as grpc's access-token credentials
 * set on tls_call instead of a header (cheaper from about 80 bytes: see
 * tok_state.gtok). Called with c->mu held: it takes only
 * the credentials' own lock and never calls the provider. */
#define LRO_CREDS_MAX_MD 3
LRO_HIDDEN int lro_creds_fast_md(lro_credentials *c, int plaintext, grpc_metadata *md,
                                 grpc_call *tls_call);
/* Whether c's token is lro-c's own (a static token or a provider's). */
LRO_HIDDEN int lro_creds_has_token(const lro_credentials *c);
/* Sets grpc's call credentials on `call`: the client's (when it keeps them
 * per call), the call's own, or both composed. Either may be NULL. */
LRO_HIDDEN int lro_creds_apply_slow(lro_credentials *client, lro_credentials *call_creds,
                                    grpc_call *call);
/* Setters refuse changes from now on. */
LRO_HIDDEN void lro_creds_freeze(lro_credentials *c);
/* Whether c sends a token or key (the plaintext rule). */
LRO_HIDDEN int lro_creds_sends_secrets(const lro_credentials *c);
/* grpc 1.51 ends a call whose credentials plugin failed with UNAVAILABLE
 * (retryable); ours carry a mark, and such a status becomes
 * UNAUTHENTICATED here. */
LRO_HIDDEN void lro_creds_fix_status(grpc_status_code *code, grpc_slice details);
/* What a client with these options can say when a connection attempt ends
 * with grpc's bare "Socket closed": the peer closed it during or right
 * after the TLS handshake (a server that requires client certificates
 * does so when it gets none, or one it does not accept: with TLS 1.3 the
 * client finished its side of the handshake and hears nothing but the
 * close), or, for plaintext, the server expects TLS. A static string. */
LRO_HIDDEN const char *lro_creds_connect_hint(const lro_client_options *o);
/* Appends `hint` to an UNAVAILABLE connection failure ending in "Socket
 * closed" (*details is replaced). */
LRO_HIDDEN void lro_creds_explain(const char *hint, grpc_status_code code, grpc_slice *details);

#endif /* LRO_CREDENTIALS_INT_H */
