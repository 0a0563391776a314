/* whereabouts CNI shim: what the runtime executes per call. It forwards the call (CNI_*, WHEREABOUTS_*,
 * KUBECONFIG, KUBERNETES_SERVICE_* and stdin) to the resident IPAM daemon (`egress ipam daemon`) on
 * $WHEREABOUTS_DAEMON_SOCKET (default /run/whereabouts/daemon.sock), writes the daemon's stdout and
 * exits with its code. Frame format: src/cni/daemon-protocol.ts. When no daemon answers (socket absent,
 * connection refused) it execs the Node plugin (../src/cni/whereabouts.js from this binary's directory,
 * else the path compiled in, else $WHEREABOUTS_PLUGIN_JS first), so the plugin works standalone. Once connected it never falls back: a daemon that dies mid-call may have
 * written the allocation, so the caller gets CNI error 11 and retries (ADD is idempotent).
 * POSIX only, no dependencies. Must not interpret the config beyond finding cniVersion for errors. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef WB_NODE
#define WB_NODE "node" /* the build script compiles in the Node binary that built it */
#endif
#ifndef WB_PLUGIN_JS
#define WB_PLUGIN_JS "" /* ... and <out>/src/cni/whereabouts.js, for a copy of the shim elsewhere */
#endif

extern char **environ;

static char *in_buf; /* stdin, kept for cniVersion in error replies */
static size_t in_len;

static int forwarded(const char *e) {
  return !strncmp(e, "CNI_", 4) || !strncmp(e, "WHEREABOUTS_", 12) || !strncmp(e, "KUBECONFIG=", 11) ||
         !strncmp(e, "KUBERNETES_SERVICE_HOST=", 24) || !strncmp(e, "KUBERNETES_SERVICE_PORT=", 24);
}

/* The config's cniVersion (first "cniVersion" string in stdin), for the error object. */
static void fail(const char *msg, const char *detail) {
  char ver[32] = "1.1.0";
  const char *p = in_buf ? strstr(in_buf, "\"cniVersion\"") : NULL;
  size_t n = p && (p = strchr(p + 12, '"')) ? strspn(p + 1, "0123456789.") : 0;
  if (n > 0 && n < sizeof ver) {
    memcpy(ver, p + 1, n);
    ver[n] = 0;
  }
  printf("{\"cniVersion\":\"%s\",\"code\":11,\"msg\":\"%s\",\"details\":\"%s: %s\"}\n", ver, msg, detail,
         strerror(errno));
  exit(1);
}

static void write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) fail("whereabouts daemon failed", "sending the call");
    p += w;
    n -= (size_t)w;
  }
}

static void fallback(void) {
  char self[PATH_MAX], js[PATH_MAX + 32];
  const char *plugin = getenv("WHEREABOUTS_PLUGIN_JS"), *node = getenv("WHEREABOUTS_NODE");
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (!plugin && n > 0) {
    self[n] = 0;
    *strrchr(self, '/') = 0; /* <out>/bin → <out>/src/cni/whereabouts.js */
    snprintf(js, sizeof js, "%s/../src/cni/whereabouts.js", self);
    if (access(js, R_OK) == 0) plugin = js;
  }
  if (!plugin && *WB_PLUGIN_JS) plugin = WB_PLUGIN_JS;
  if (!plugin) fail("whereabouts plugin not runnable", "cannot locate whereabouts.js");
  if (!node) node = access(WB_NODE, X_OK) == 0 ? WB_NODE : "node";
  char *args[] = {(char *)node, (char *)plugin, NULL};
  execvp(node, args);
  fail("whereabouts plugin not runnable", node);
}

int main(void) {
  const char *path = getenv("WHEREABOUTS_DAEMON_SOCKET");
  if (!path || !*path) path = "/run/whereabouts/daemon.sock";
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || strlen(path) >= sizeof sa.sun_path) fallback();
  strcpy(sa.sun_path, path);
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) fallback(); /* stdin still untouched */
  signal(SIGPIPE, SIG_IGN);

  size_t cap = 65536;
  in_buf = malloc(cap + 1);
  for (ssize_t r; in_buf && (r = read(0, in_buf + in_len, cap - in_len)) != 0;) {
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) fail("whereabouts shim failed", "reading stdin");
    if ((in_len += (size_t)r) == cap && !(in_buf = realloc(in_buf, (cap *= 2) + 1))) break;
  }
  if (!in_buf) fail("whereabouts shim failed", "out of memory");
  in_buf[in_len] = 0;

  write_all(fd, "WBQ1\n", 5);
  for (char **e = environ; *e; e++)
    if (forwarded(*e)) write_all(fd, *e, strlen(*e) + 1); /* KEY=VALUE\0 */
  char head[32];
  int hn = snprintf(head, sizeof head, "%c%zu\n", 0, in_len);
  write_all(fd, head, (size_t)hn);
  write_all(fd, in_buf, in_len);

  size_t ocap = 65536, olen = 0;
  char *out = malloc(ocap + 1);
  for (ssize_t r; out && (r = read(fd, out + olen, ocap - olen)) != 0;) {
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) fail("whereabouts daemon failed", "reading the reply");
    if ((olen += (size_t)r) == ocap && !(out = realloc(out, (ocap *= 2) + 1))) break;
  }
  if (!out) fail("whereabouts shim failed", "out of memory");
  out[olen] = 0;
  /* "WBR1 <code> <len>\n", then exactly len bytes: anything else is a daemon that died mid-reply. */
  char *nl = memchr(out, '\n', olen);
  int code, hl = -1;
  size_t len = 0;
  errno = EPROTO;
  if (!nl || sscanf(out, "WBR1 %d %zu%n", &code, &len, &hl) != 2 || out + hl != nl ||
      olen != (size_t)(nl - out) + 1 + len)
    fail("whereabouts daemon failed", "incomplete reply (daemon stopped?)");
  hl = (int)(nl - out) + 1;
  fwrite(out + hl, 1, len, stdout);
  return fflush(stdout) == 0 ? code : 1;
}
