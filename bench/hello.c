/*
 * hello-c: the bare C libmicrohttpd baseline for `make bench` (part "server").
 *
 * Answers every request with 200, Content-Type: application/json and the body
 * {"hello":"world"} -- the same bytes as the Swift HelloServer built on
 * MicroHTTPServer. Daemon configuration follows ../shared/MHD.md section 1:
 * one epoll internal thread, suspend/resume allowed, explicit memory, timeout
 * and connection limits. The response is queued only in the final handler
 * call so keep-alive stays on (queueing it in the first call forces close).
 *
 * Build: cc -O2 -o bench/out/hello-c bench/hello.c -lmicrohttpd
 * Usage: hello-c PORT     (PORT 0 picks a free port; prints "port=N" on stdout)
 * Runs until SIGTERM or SIGINT.
 *
 * Variant, for comparison only: -DHELLO_EXTERNAL_LOOP uses MHD_USE_EPOLL with our own thread
 * (poll on MHD's epoll fd, then MHD_run) instead of MHD_USE_EPOLL_INTERNAL_THREAD. In 0.9.75 the
 * internal-thread loop in MHD_epoll() calls epoll_wait again with the full timeout after a batch of
 * exactly MAX_EVENTS (128) events, so when 128, 256, ... connections are ready at once it blocks
 * until some unrelated event arrives (seen with wrk -c128/-c256: the server idles with every
 * request unanswered until wrk's 2 s timeout). MHD_run() never blocks, which avoids this.
 */
#include <microhttpd.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef HELLO_EXTERNAL_LOOP
#include <poll.h>
#include <pthread.h>

#define HELLO_DAEMON_FLAGS (MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG)

static volatile sig_atomic_t stopping;

static void *event_loop(void *arg) {
  struct MHD_Daemon *daemon = arg;
  const union MHD_DaemonInfo *info =
      MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_EPOLL_FD);
  struct pollfd pfd = {.fd = info->epoll_fd, .events = POLLIN};
  while (!stopping) {
    MHD_UNSIGNED_LONG_LONG timeout = 0;
    int ms = 500; /* also bounds how long a stop request waits */
    if (MHD_get_timeout(daemon, &timeout) == MHD_YES && timeout < 500)
      ms = (int)timeout;
    (void)poll(&pfd, 1, ms);
    (void)MHD_run(daemon);
  }
  return NULL;
}
#else
#define HELLO_DAEMON_FLAGS                                                     \
  (MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG)
#endif

static const char BODY[] = "{\"hello\":\"world\"}";

/* Non-NULL marker stored in *con_cls after the first call of a request. */
static int seen_marker;

static enum MHD_Result handle(void *cls, struct MHD_Connection *connection,
                              const char *url, const char *method,
                              const char *version, const char *upload_data,
                              size_t *upload_data_size, void **con_cls) {
  (void)url;
  (void)method;
  (void)version;
  (void)upload_data;
  struct MHD_Response *response = cls;

  if (*con_cls == NULL) {
    /* First call: headers only. Queueing here would disable keep-alive. */
    *con_cls = &seen_marker;
    return MHD_YES;
  }
  if (*upload_data_size != 0) {
    /* Discard any request body. */
    *upload_data_size = 0;
    return MHD_YES;
  }
  /* Final call. */
  return MHD_queue_response(connection, MHD_HTTP_OK, response);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s PORT   (0 = pick a free port)\n", argv[0]);
    return 2;
  }
  char *end = NULL;
  errno = 0;
  long port = strtol(argv[1], &end, 10);
  if (errno != 0 || end == argv[1] || *end != '\0' || port < 0 || port > 65535) {
    fprintf(stderr, "hello-c: invalid port '%s'\n", argv[1]);
    return 2;
  }

  /* Block the stop signals in every thread (MHD's thread inherits the mask);
   * the main thread collects them with sigwait. */
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, NULL);
  signal(SIGPIPE, SIG_IGN);

  struct MHD_Response *response = MHD_create_response_from_buffer(
      sizeof(BODY) - 1, (void *)BODY, MHD_RESPMEM_PERSISTENT);
  if (response == NULL ||
      MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE,
                              "application/json") != MHD_YES) {
    fprintf(stderr, "hello-c: cannot create the response\n");
    return 1;
  }

  struct MHD_Daemon *daemon = MHD_start_daemon(
      HELLO_DAEMON_FLAGS, (uint16_t)port, NULL, NULL, &handle, response,
      MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(32 * 1024),
      MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)60,
      MHD_OPTION_CONNECTION_LIMIT, (unsigned int)4096,
      MHD_OPTION_END);
  if (daemon == NULL) {
    fprintf(stderr, "hello-c: MHD_start_daemon failed on port %ld\n", port);
    MHD_destroy_response(response);
    return 1;
  }

  const union MHD_DaemonInfo *info =
      MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_BIND_PORT);
  if (info == NULL || info->port == 0) {
    fprintf(stderr, "hello-c: cannot read the bound port\n");
    MHD_stop_daemon(daemon);
    MHD_destroy_response(response);
    return 1;
  }
  printf("port=%u\n", (unsigned)info->port);
  fflush(stdout);

#ifdef HELLO_EXTERNAL_LOOP
  pthread_t loop_thread;
  if (pthread_create(&loop_thread, NULL, event_loop, daemon) != 0) {
    fprintf(stderr, "hello-c: cannot start the event loop thread\n");
    return 1;
  }
#endif

  int sig = 0;
  while (sigwait(&stop, &sig) != 0) {
  }

#ifdef HELLO_EXTERNAL_LOOP
  stopping = 1;
  pthread_join(loop_thread, NULL);
#endif

  /* No connection is ever suspended here, so stopping is safe (MHD.md 2.8). */
  MHD_stop_daemon(daemon);
  MHD_destroy_response(response);
  return 0;
}
