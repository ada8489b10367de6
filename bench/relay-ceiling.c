/*
 * relay-ceiling: the thinnest credential-injecting proxy that can be built on libmicrohttpd 0.9.75, in C, for
 * `bench/cpu.sh` (issue 7). Not part of labgate: it answers "how fast can a proxy on this library be here at all",
 * the ceiling labgate's Swift layers are measured against.
 *
 * The same shape as labgate's relay path, with nothing else: one event loop per CPU (two by default), each
 * pinned, driving its own MHD daemon (MHD_USE_EPOLL, zero-timeout MHD_run, the 24 KiB connection pool) on a
 * shared listening socket, and its own keep-alive upstream connections in the same epoll set. A request is sent
 * upstream from the access handler's first call; the connection then waits "parked" (MHD calls the handler again
 * every round) until the answer is read, and the answer is queued in the round it arrived, as labgate does. What
 * it leaves out: routing beyond one prefix, request ids, metrics, header validation, timeouts, retries, bodies,
 * chunked answers, errors beyond 502. Headers: the client's are forwarded but Host and Connection; Authorization
 * is set; the answer's are returned but the framing and hop-by-hop ones.
 *
 * Build: cc -O2 -o relay-ceiling bench/relay-ceiling.c -lmicrohttpd -lpthread
 * Usage: LABRIC_API_BASE_URL=http://127.0.0.1:PORT LABRIC_API_KEY=KEY relay-ceiling serve --host H --port P
 *        (the command line of `labgate serve`, so that cpu.sh can run it as LABGATE_B). Proxies /labric/X to
 *        the upstream's /X. Runs until SIGTERM.
 */
#define _GNU_SOURCE
#include <microhttpd.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define LOOPS 2
#define POOL_BYTES (24 << 10)
#define MAX_LINKS 512
#define READ_BYTES (16 << 10)

static struct sockaddr_in upstream_address;
static char upstream_host[64];
static char authorization[256];
static const char *prefix = "/labric";

struct link;

struct request {
  struct link *link;
  int answered;    /* the answer is in `answer` */
  int failed;
  int status;
  char *answer;    /* the upstream's bytes: head then body, owned */
  size_t head_length;
  size_t body_length;
};

struct link {
  int fd;
  struct loop *loop;
  struct request *request; /* the exchange in flight, or NULL when idle */
  char buffer[READ_BYTES];
  size_t filled;
};

struct loop {
  int cpu;
  int epoll;
  struct MHD_Daemon *daemon;
  struct link *idle[MAX_LINKS];
  int idle_count;
  int parked; /* handler calls this run that found no answer yet */
};

static void fail(const char *what) {
  perror(what);
  exit(1);
}

static struct link *link_open(struct loop *loop) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return NULL;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  /* Blocking connect on loopback: new links are made only while the bench warms up. */
  if (connect(fd, (struct sockaddr *)&upstream_address, sizeof upstream_address) != 0) {
    close(fd);
    return NULL;
  }
  if (fcntl(fd, F_SETFL, O_NONBLOCK) != 0) fail("fcntl");
  struct link *link = calloc(1, sizeof *link);
  link->fd = fd;
  link->loop = loop;
  struct epoll_event event = {.events = EPOLLIN, .data.ptr = link};
  if (epoll_ctl(loop->epoll, EPOLL_CTL_ADD, fd, &event) != 0) fail("epoll_ctl");
  return link;
}

/* Also when it waits idle (the upstream closed it): it leaves the idle stack first. */
static void link_close(struct link *link) {
  struct loop *loop = link->loop;
  for (int i = 0; i < loop->idle_count; i++) {
    if (loop->idle[i] != link) continue;
    loop->idle[i] = loop->idle[--loop->idle_count];
    break;
  }
  epoll_ctl(loop->epoll, EPOLL_CTL_DEL, link->fd, NULL);
  close(link->fd);
  free(link);
}

struct head_writer {
  char *bytes;
  size_t length;
  size_t capacity;
};

static void put(struct head_writer *w, const char *text, size_t count) {
  if (w->length + count > w->capacity) return; /* the caller sized it */
  memcpy(w->bytes + w->length, text, count);
  w->length += count;
}

static void puts0(struct head_writer *w, const char *text) { put(w, text, strlen(text)); }

static enum MHD_Result forward_field(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
                                     const char *value, size_t value_size) {
  (void)kind;
  struct head_writer *w = cls;
  if ((key_size == 4 && strncasecmp(key, "host", 4) == 0) ||
      (key_size == 10 && strncasecmp(key, "connection", 10) == 0) ||
      (key_size == 13 && strncasecmp(key, "authorization", 13) == 0))
    return MHD_YES;
  put(w, key, key_size);
  put(w, ": ", 2);
  put(w, value, value_size);
  put(w, "\r\n", 2);
  return MHD_YES;
}

/* Sends the request upstream; 0 on success. */
static int send_upstream(struct loop *loop, struct MHD_Connection *connection, struct request *request,
                         const char *method, const char *url) {
  struct link *link = loop->idle_count > 0 ? loop->idle[--loop->idle_count] : link_open(loop);
  if (!link) return -1;
  char bytes[8192];
  struct head_writer w = {bytes, 0, sizeof bytes};
  size_t prefix_length = strlen(prefix);
  const char *path = strncmp(url, prefix, prefix_length) == 0 ? url + prefix_length : url;
  if (*path == 0) path = "/";
  puts0(&w, method);
  put(&w, " ", 1);
  puts0(&w, path);
  puts0(&w, " HTTP/1.1\r\nHost: ");
  puts0(&w, upstream_host);
  puts0(&w, "\r\nAuthorization: ");
  puts0(&w, authorization);
  put(&w, "\r\n", 2);
  MHD_get_connection_values_n(connection, MHD_HEADER_KIND, forward_field, &w);
  put(&w, "\r\n", 2);
  if (send(link->fd, bytes, w.length, MSG_NOSIGNAL) != (ssize_t)w.length) {
    link_close(link);
    return -1;
  }
  link->request = request;
  link->filled = 0;
  request->link = link;
  return 0;
}

/* The answer's head ends at `end`; returns the body length from Content-Length, or -1. */
static long content_length(const char *head, size_t end) {
  const char *p = head;
  while (p < head + end) {
    const char *line_end = memchr(p, '\n', head + end - p);
    if (!line_end) break;
    if (line_end - p > 15 && strncasecmp(p, "content-length:", 15) == 0) return strtol(p + 15, NULL, 10);
    p = line_end + 1;
  }
  return -1;
}

static void link_readable(struct link *link) {
  struct loop *loop = link->loop;
  ssize_t n = recv(link->fd, link->buffer + link->filled, sizeof link->buffer - link->filled, 0);
  struct request *request = link->request;
  if (n <= 0) {
    if (n < 0 && errno == EAGAIN) return;
    if (request) {
      request->failed = 1;
      request->answered = 1;
      request->link = NULL;
    }
    link_close(link);
    return;
  }
  link->filled += (size_t)n;
  char *end = memmem(link->buffer, link->filled, "\r\n\r\n", 4);
  if (!end) return;
  size_t head = (size_t)(end - link->buffer) + 4;
  long body = content_length(link->buffer, head);
  if (body < 0 || head + (size_t)body > link->filled) return; /* more to come (or unsupported framing) */
  link->filled = 0;
  loop->idle[loop->idle_count++] = link;
  if (!request) return; /* the client left: the answer is dropped, the link reused */
  request->status = atoi(link->buffer + 9);
  request->answer = malloc(head + (size_t)body);
  memcpy(request->answer, link->buffer, head + (size_t)body);
  request->head_length = head;
  request->body_length = (size_t)body;
  request->answered = 1;
  request->link = NULL;
  link->request = NULL;
}

static int is_returned(const char *name, size_t length) {
  static const char *dropped[] = {"connection", "content-length", "transfer-encoding", "keep-alive"};
  for (size_t i = 0; i < sizeof dropped / sizeof *dropped; i++)
    if (strlen(dropped[i]) == length && strncasecmp(name, dropped[i], length) == 0) return 0;
  return 1;
}

static enum MHD_Result respond(struct MHD_Connection *connection, struct request *request) {
  if (request->failed) {
    static const char body[] = "{\"error\":\"upstream failed\"}";
    struct MHD_Response *response =
        MHD_create_response_from_buffer(sizeof body - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
    enum MHD_Result result = MHD_queue_response(connection, 502, response);
    MHD_destroy_response(response);
    return result;
  }
  struct MHD_Response *response = MHD_create_response_from_buffer(
      request->body_length, request->answer + request->head_length, MHD_RESPMEM_MUST_COPY);
  /* The fields after the status line, NUL-terminated in place for MHD (which copies them). */
  char *p = memchr(request->answer, '\n', request->head_length) + 1;
  char *head_end = request->answer + request->head_length - 2;
  while (p < head_end) {
    char *line_end = memchr(p, '\n', (size_t)(head_end - p));
    if (!line_end) break;
    char *colon = memchr(p, ':', (size_t)(line_end - p));
    if (colon && is_returned(p, (size_t)(colon - p))) {
      char *value = colon + 1;
      while (*value == ' ') value++;
      char *value_end = line_end;
      if (value_end > value && value_end[-1] == '\r') value_end--;
      *colon = 0;
      *value_end = 0;
      MHD_add_response_header(response, p, value);
    }
    p = line_end + 1;
  }
  enum MHD_Result result = MHD_queue_response(connection, (unsigned)request->status, response);
  MHD_destroy_response(response);
  return result;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *connection, const char *url, const char *method,
                               const char *version, const char *upload_data, size_t *upload_data_size,
                               void **con_cls) {
  (void)version;
  (void)upload_data;
  struct loop *loop = cls;
  struct request *request = *con_cls;
  if (!request) {
    request = calloc(1, sizeof *request);
    *con_cls = request;
    if (send_upstream(loop, connection, request, method, url) != 0) {
      request->failed = 1;
      request->answered = 1;
    }
    return MHD_YES;
  }
  if (*upload_data_size != 0) {
    *upload_data_size = 0; /* bodies are not forwarded here */
    return MHD_YES;
  }
  if (!request->answered) {
    loop->parked++;
    return MHD_YES; /* parked: called again next run */
  }
  return respond(connection, request);
}

static void completed(void *cls, struct MHD_Connection *connection, void **con_cls,
                      enum MHD_RequestTerminationCode code) {
  (void)cls;
  (void)connection;
  (void)code;
  struct request *request = *con_cls;
  if (!request) return;
  if (request->link) request->link->request = NULL; /* an answer still coming is read and dropped */
  free(request->answer);
  free(request);
  *con_cls = NULL;
}

static void *run(void *arg) {
  struct loop *loop = arg;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(loop->cpu, &set);
  sched_setaffinity(0, sizeof set, &set);
  struct epoll_event events[64];
  MHD_run(loop->daemon);
  for (;;) {
    MHD_UNSIGNED_LONG_LONG timeout = 0;
    int has_timeout = MHD_get_timeout(loop->daemon, &timeout) == MHD_YES;
    int wait = has_timeout ? (int)(timeout < 500 ? timeout : 500) : 500;
    int ready = epoll_wait(loop->epoll, events, 64, wait);
    if (ready == 0 && wait == 0 && loop->parked > 0) ready = epoll_wait(loop->epoll, events, 64, 1);
    for (int i = 0; i < ready; i++)
      if (events[i].data.ptr != NULL) link_readable(events[i].data.ptr);
    loop->parked = 0;
    MHD_run(loop->daemon);
  }
  return NULL;
}

int main(int argc, char **argv) {
  const char *host = "127.0.0.1";
  int port = 8080;
  for (int i = 1; i + 1 < argc; i++) {
    if (strcmp(argv[i], "--host") == 0) host = argv[++i];
    else if (strcmp(argv[i], "--port") == 0) port = atoi(argv[++i]);
  }
  const char *base = getenv("LABRIC_API_BASE_URL");
  const char *key = getenv("LABRIC_API_KEY");
  if (!base || !key || strncmp(base, "http://", 7) != 0) {
    fprintf(stderr, "relay-ceiling: set LABRIC_API_BASE_URL=http://HOST:PORT and LABRIC_API_KEY\n");
    return 2;
  }
  snprintf(upstream_host, sizeof upstream_host, "%s", base + 7);
  char *slash = strchr(upstream_host, '/');
  if (slash) *slash = 0;
  char *colon = strchr(upstream_host, ':');
  upstream_address.sin_family = AF_INET;
  upstream_address.sin_port = htons(colon ? (uint16_t)atoi(colon + 1) : 80);
  char address[64];
  snprintf(address, sizeof address, "%.*s", colon ? (int)(colon - upstream_host) : 63, upstream_host);
  if (inet_pton(AF_INET, address, &upstream_address.sin_addr) != 1) fail("upstream address");
  snprintf(authorization, sizeof authorization, "Bearer %s", key);
  signal(SIGPIPE, SIG_IGN);

  int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in listen_address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  inet_pton(AF_INET, host, &listen_address.sin_addr);
  if (bind(listener, (struct sockaddr *)&listen_address, sizeof listen_address) != 0 ||
      listen(listener, SOMAXCONN) != 0)
    fail("listen");

  sigset_t signals; /* blocked before the loops start, so that they inherit it and main takes SIGTERM */
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, NULL);
  static struct loop loops[LOOPS];
  pthread_t threads[LOOPS];
  for (int i = 0; i < LOOPS; i++) {
    struct loop *loop = &loops[i];
    loop->cpu = i;
    loop->daemon = MHD_start_daemon(
        MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG, 0, NULL, NULL, handler, loop,
        MHD_OPTION_LISTEN_SOCKET, listener, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)POOL_BYTES,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60, MHD_OPTION_CONNECTION_LIMIT, (unsigned)1000,
        MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_END);
    if (!loop->daemon) fail("MHD_start_daemon");
    int mhd_epoll = MHD_get_daemon_info(loop->daemon, MHD_DAEMON_INFO_EPOLL_FD)->epoll_fd;
    loop->epoll = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event event = {.events = EPOLLIN, .data.ptr = NULL};
    if (epoll_ctl(loop->epoll, EPOLL_CTL_ADD, mhd_epoll, &event) != 0) fail("epoll_ctl");
    pthread_create(&threads[i], NULL, run, loop);
  }
  int signal_number;
  sigwait(&signals, &signal_number);
  return 0;
}
