/*
 * disconnect.c - the DISCONNECT fault: close the connection under a call.
 *
 * grpc core exposes no file descriptor. The call's peer ("ipv4:127.0.0.1:
 * 51234", "ipv6:[::1]:51234") names the client end of the TCP connection,
 * so we scan our own descriptors for the socket whose peer is that address
 * and whose local port is the server's, and shut it down: grpc's poller
 * then sees the connection drop exactly as if the network had failed. For
 * unix sockets the client end is unnamed: every accepted socket on our path
 * is shut down.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <grpc/support/alloc.h>

#include "server_int.h"

/* Parses "ipv4:1.2.3.4:5" / "ipv6:[::1]:5" (also %-escaped brackets). */
static int parse_peer(const char *peer, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof *ss);
    char host[128];
    const char *colon = strrchr(peer, ':');
    if (colon == NULL) {
        return -1;
    }
    int port = atoi(colon + 1);
    if (strncmp(peer, "ipv4:", 5) == 0) {
        size_t n = (size_t)(colon - (peer + 5));
        if (n >= sizeof host) {
            return -1;
        }
        memcpy(host, peer + 5, n);
        host[n] = '\0';
        struct sockaddr_in *a = (struct sockaddr_in *)ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        return inet_pton(AF_INET, host, &a->sin_addr) == 1 ? 0 : -1;
    }
    if (strncmp(peer, "ipv6:", 5) == 0) {
        const char *h = peer + 5;
        /* Strip "[...]" or "%5B...%5D". */
        size_t n = (size_t)(colon - h);
        if (n >= sizeof host) {
            return -1;
        }
        memcpy(host, h, n);
        host[n] = '\0';
        char *p = host;
        if (*p == '[') {
            p++;
        } else if (strncmp(p, "%5B", 3) == 0) {
            p += 3;
        }
        char *end = strchr(p, ']');
        if (end == NULL) {
            end = strstr(p, "%5D");
        }
        if (end != NULL) {
            *end = '\0';
        }
        char *zone = strchr(p, '%');
        if (zone != NULL) {
            *zone = '\0';
        }
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        return inet_pton(AF_INET6, p, &a->sin6_addr) == 1 ? 0 : -1;
    }
    return -1;
}

/* grpc listens on a dual-stack socket even for 127.0.0.1, so accepted
 * sockets report ::ffff:127.0.0.1 while the peer string says ipv4: turn
 * v4-mapped addresses back into plain IPv4 before comparing. */
static void unmap_v4(struct sockaddr_storage *ss)
{
    if (ss->ss_family != AF_INET6) {
        return;
    }
    struct sockaddr_in6 a6;
    memcpy(&a6, ss, sizeof a6);
    if (!IN6_IS_ADDR_V4MAPPED(&a6.sin6_addr)) {
        return;
    }
    struct sockaddr_in a4;
    memset(&a4, 0, sizeof a4);
    a4.sin_family = AF_INET;
    a4.sin_port = a6.sin6_port;
    memcpy(&a4.sin_addr, &a6.sin6_addr.s6_addr[12], 4);
    memset(ss, 0, sizeof *ss);
    memcpy(ss, &a4, sizeof a4);
}

static int same_addr(struct sockaddr_storage *a, struct sockaddr_storage *b)
{
    unmap_v4(a);
    unmap_v4(b);
    if (a->ss_family != b->ss_family) {
        return 0;
    }
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
    return x->sin6_port == y->sin6_port &&
           memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0;
}

static int local_port(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET) {
        return ntohs(((const struct sockaddr_in *)ss)->sin_port);
    }
    if (ss->ss_family == AF_INET6) {
        return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
    }
    return -1;
}

int disconnect_call(srv_call *c)
{
    lro_test_server *s = c->s;
    char *peer = grpc_call_get_peer(c->call);
    struct sockaddr_storage want;
    int tcp = peer != NULL && parse_peer(peer, &want) == 0;
    gpr_free(peer);
    if (!tcp && s->unix_path == NULL) {
        return 0;
    }
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL) {
        return 0;
    }
    int hits = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        char *end;
        long fd = strtol(de->d_name, &end, 10);
        if (*end != '\0' || fd < 0 || fd == dirfd(d)) {
            continue;
        }
        struct stat st;
        if (fstat((int)fd, &st) != 0 || !S_ISSOCK(st.st_mode)) {
            continue;
        }
        struct sockaddr_storage loc, rem;
        socklen_t ll = sizeof loc, rl = sizeof rem;
        memset(&loc, 0, sizeof loc);
        memset(&rem, 0, sizeof rem);
        if (getsockname((int)fd, (struct sockaddr *)&loc, &ll) != 0 ||
            getpeername((int)fd, (struct sockaddr *)&rem, &rl) != 0) {
            continue; /* listeners and unconnected sockets have no peer */
        }
        int match;
        if (tcp) {
            match = same_addr(&rem, &want) && local_port(&loc) == s->port;
        } else {
            const struct sockaddr_un *u = (const void *)&loc;
            match = loc.ss_family == AF_UNIX && ll > offsetof(struct sockaddr_un, sun_path) &&
                    strncmp(u->sun_path, s->unix_path, sizeof u->sun_path) == 0;
        }
        if (match && shutdown((int)fd, SHUT_RDWR) == 0) {
            hits++;
        }
    }
    closedir(d);
    return hits;
}
