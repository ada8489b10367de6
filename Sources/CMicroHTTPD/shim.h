// The few libmicrohttpd calls Swift cannot make directly: MHD's variadic functions are not imported,
// so each one we need gets a fixed-signature wrapper here. Nothing else belongs in this file.
#ifndef CMICROHTTPD_SHIM_H
#define CMICROHTTPD_SHIM_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <malloc.h>  /* malloc_trim, for IdleTrim */
#include <microhttpd.h>

/// Starts a daemon whose options all come from one MHD_OPTION_ARRAY (terminated by MHD_OPTION_END).
static inline struct MHD_Daemon *cmhd_start_daemon(unsigned int flags, uint16_t port,
                                                   MHD_AccessHandlerCallback handler, void *handler_cls,
                                                   struct MHD_OptionItem *options) {
    return MHD_start_daemon(flags, port, NULL, NULL, handler, handler_cls,
                            MHD_OPTION_ARRAY, options, MHD_OPTION_END);
}

/// The port the daemon listens on (useful after binding port 0), or 0 when unknown.
static inline uint16_t cmhd_daemon_port(struct MHD_Daemon *daemon) {
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_BIND_PORT);
    return info == NULL ? 0 : info->port;
}

/// The daemon's epoll descriptor (MHD_USE_EPOLL), for an event loop of our own, or -1.
static inline int cmhd_daemon_epoll_fd(struct MHD_Daemon *daemon) {
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_EPOLL_FD);
    return info == NULL ? -1 : info->epoll_fd;
}

/// The connection's socket, or -1.
static inline int cmhd_connection_fd(struct MHD_Connection *connection) {
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
    return info == NULL ? -1 : info->connect_fd;
}

/// Copies the peer's address bytes into raw (4 for IPv4, 16 for IPv6); returns AF_INET or AF_INET6, or -1.
static inline int cmhd_connection_peer(struct MHD_Connection *connection, uint8_t raw[16]) {
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (info == NULL || info->client_addr == NULL) return -1;
    const struct sockaddr *address = info->client_addr;
    if (address->sa_family == AF_INET) {
        memcpy(raw, &((const struct sockaddr_in *)address)->sin_addr, 4);
        return AF_INET;
    }
    if (address->sa_family == AF_INET6) {
        memcpy(raw, &((const struct sockaddr_in6 *)address)->sin6_addr, 16);
        return AF_INET6;
    }
    return -1;
}

/// Where MHD's log lines go: Swift cannot receive a va_list in a C callback, so the trampoline formats it here.
typedef void (*cmhd_log_sink)(void *cls, const char *message);

struct cmhd_log_target {
    cmhd_log_sink sink;
    void *cls;
};

static void cmhd_log_trampoline(void *cls, const char *format, va_list arguments) {
    const struct cmhd_log_target *target = (const struct cmhd_log_target *)cls;
    char message[512];
    vsnprintf(message, sizeof message, format, arguments);
    target->sink(target->cls, message);
}

/// The MHD_OPTION_EXTERNAL_LOGGER item that sends every message to target (which must outlive the daemon).
static inline struct MHD_OptionItem cmhd_logger_option(struct cmhd_log_target *target) {
    struct MHD_OptionItem item = {MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)&cmhd_log_trampoline, target};
    return item;
}

/// Linux's POLLRDHUP, which needs _GNU_SOURCE in C and so is not imported.
static const short cmhd_pollrdhup = 0x2000;

#endif
