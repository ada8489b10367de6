// What Swift cannot call or see directly: MHD's variadic start, the daemon info union, CPU_SET, memmem.
#define _GNU_SOURCE
#include <microhttpd.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <string.h>
#include <sys/epoll.h>

static inline struct MHD_Daemon *rc_start(MHD_AccessHandlerCallback handler, void *cls, int listener,
                                          MHD_RequestCompletedCallback completed) {
    return MHD_start_daemon(MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG, 0, NULL, NULL, handler,
                            cls, MHD_OPTION_LISTEN_SOCKET, listener, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                            (size_t)(24 << 10), MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)1000, MHD_OPTION_NOTIFY_COMPLETED, completed,
                            NULL, MHD_OPTION_END);
}
static inline int rc_epoll_fd(struct MHD_Daemon *daemon) {
    return MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_EPOLL_FD)->epoll_fd;
}
static inline int rc_pin(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity(0, sizeof set, &set);
}
static inline const void *rc_memmem(const void *haystack, size_t count, const void *needle, size_t needleCount) {
    return memmem(haystack, count, needle, needleCount);
}
