/* LD_PRELOAD shim for bench/callgrind.sh: valgrind 3.19 (Debian bookworm) crashes ("VALGRIND INTERNAL ERROR: ...
 * signal 11") once a Swift async main parks its thread in libdispatch's dispatch_main(), which exits the main
 * pthread and leaves it in sigsuspend. This dispatch_main() keeps the main thread and drains the main queue itself,
 * the way CoreFoundation's run loop does, so the program behaves the same and valgrind copes.
 * Build: cc -O2 -shared -fPIC -o vg_dispatch_main.so vg_dispatch_main.c */
#include <poll.h>
#include <stdint.h>
#include <unistd.h>

int _dispatch_get_main_queue_handle_4CF(void);
void _dispatch_main_queue_callback_4CF(void *msg);

void dispatch_main(void) {
    int fd = _dispatch_get_main_queue_handle_4CF();
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 1000) > 0) {
            uint64_t count;
            (void)read(fd, &count, sizeof count);
        }
        _dispatch_main_queue_callback_4CF(0);
    }
}
