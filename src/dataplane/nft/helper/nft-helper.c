/* nft-helper: a long-lived nftables executor for the agent (src/dataplane/nft/persistent.ts). It loads
 * libnftables.so.1 with dlopen() (no dev headers needed: the few prototypes are declared below) and
 * runs requests read from stdin, one at a time, answering each on stdout:
 *   request: op (1 byte) + payload length (u32, big endian) + payload
 *     'A' apply the payload as an nft script       (as `nft -f -`)
 *     'C' check the payload, nothing is committed  (as `nft --check -f -`)
 *     'J' run the payload as one command with JSON output (as `nft -j <command>`, for listing)
 *   reply:   status (1 byte: 'O' ok, 'E' error) + length (u32, big endian) + text
 *     ok: nft's output (JSON for 'J', normally empty otherwise); error: the error text exactly as nft
 *     prints it on stderr.
 * On start it sends one reply frame: 'O' "nft-helper 1" once the library is loaded, or 'E' with the
 * dlopen error and exit code 3 (the caller then falls back to spawning `nft`).
 * Scripts are run from a file, not from a buffer: libnftables reports errors in a buffer without a
 * position ("Error: ..." and the buffer's first line), while `nft -f -` prints
 * "/dev/stdin:<line>:<col>: Error: ..." with the offending line. So the script goes into a memfd that
 * is put on fd 0 and the library is asked to read "-", exactly what the nft binary does.
 * Each request gets a fresh nft context, as each `nft` process has: no cache, variables or state carry
 * over from one request to the next. The helper never composes commands itself. Linux only. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* libnftables' public API (nftables/libnftables.h, stable since 0.9: symbol version LIBNFTABLES_1). */
struct nft_ctx;
#define NFT_CTX_DEFAULT 0
#define NFT_CTX_OUTPUT_JSON (1u << 4)
static struct nft_ctx *(*nft_ctx_new)(uint32_t flags);
static void (*nft_ctx_free)(struct nft_ctx *ctx);
static void (*nft_ctx_set_dry_run)(struct nft_ctx *ctx, bool dry);
static void (*nft_ctx_output_set_flags)(struct nft_ctx *ctx, unsigned int flags);
static int (*nft_ctx_buffer_output)(struct nft_ctx *ctx);
static int (*nft_ctx_buffer_error)(struct nft_ctx *ctx);
static const char *(*nft_ctx_get_output_buffer)(struct nft_ctx *ctx);
static const char *(*nft_ctx_get_error_buffer)(struct nft_ctx *ctx);
static int (*nft_run_cmd_from_buffer)(struct nft_ctx *ctx, const char *buf);
static int (*nft_run_cmd_from_filename)(struct nft_ctx *ctx, const char *filename);

#define MAX_REQUEST (1u << 30)

static int req_fd = -1, rep_fd = -1, null_fd = -1;

static void die(const char *what) {
  fprintf(stderr, "nft-helper: %s: %s\n", what, strerror(errno));
  exit(2);
}

static void write_all(int fd, const void *buf, size_t n) {
  const char *p = buf;
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) die("writing");
    p += w;
    n -= (size_t)w;
  }
}

/* false on a clean EOF before the first byte; a short read inside a frame is fatal. */
static bool read_all(int fd, void *buf, size_t n, bool eof_ok) {
  char *p = buf;
  size_t got = 0;
  while (got < n) {
    ssize_t r = read(fd, p + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) die("reading");
    if (r == 0) {
      if (eof_ok && got == 0) return false;
      errno = EPIPE;
      die("reading (truncated request)");
    }
    got += (size_t)r;
  }
  return true;
}

static void reply(char status, const char *text) {
  size_t n = text ? strlen(text) : 0;
  unsigned char head[5] = {(unsigned char)status, (unsigned char)(n >> 24), (unsigned char)(n >> 16),
                           (unsigned char)(n >> 8), (unsigned char)n};
  write_all(rep_fd, head, sizeof head);
  if (n) write_all(rep_fd, text, n);
}

static bool load(void) {
  void *h = dlopen("libnftables.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!h) return false;
#define SYM(name) \
  if (!(*(void **)&name = dlsym(h, #name))) return false;
  SYM(nft_ctx_new)
  SYM(nft_ctx_free)
  SYM(nft_ctx_set_dry_run)
  SYM(nft_ctx_output_set_flags)
  SYM(nft_ctx_buffer_output)
  SYM(nft_ctx_buffer_error)
  SYM(nft_ctx_get_output_buffer)
  SYM(nft_ctx_get_error_buffer)
  SYM(nft_run_cmd_from_buffer)
  SYM(nft_run_cmd_from_filename)
#undef SYM
  return true;
}

/* Puts the script on fd 0 (a memfd, so the library can re-read lines for its error messages). */
static bool script_on_stdin(const char *script, size_t n) {
  int fd = memfd_create("nft-script", MFD_CLOEXEC);
  if (fd < 0) return false;
  const char *p = script;
  size_t left = n;
  while (left > 0) {
    ssize_t w = write(fd, p, left);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      close(fd);
      return false;
    }
    p += w;
    left -= (size_t)w;
  }
  bool ok = lseek(fd, 0, SEEK_SET) == 0 && dup2(fd, 0) == 0;
  close(fd);
  clearerr(stdin);
  return ok;
}

static void run(char op, char *payload, size_t n) {
  struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
  if (!ctx) {
    reply('E', "nft-helper: nft_ctx_new failed\n");
    return;
  }
  nft_ctx_buffer_output(ctx);
  nft_ctx_buffer_error(ctx);
  int rc;
  if (op == 'J') {
    nft_ctx_output_set_flags(ctx, NFT_CTX_OUTPUT_JSON);
    rc = nft_run_cmd_from_buffer(ctx, payload);
  } else {
    if (op == 'C') nft_ctx_set_dry_run(ctx, true);
    if (!script_on_stdin(payload, n)) {
      char msg[160];
      snprintf(msg, sizeof msg, "nft-helper: cannot stage the script: %s\n", strerror(errno));
      nft_ctx_free(ctx);
      dup2(null_fd, 0);
      reply('E', msg);
      return;
    }
    rc = nft_run_cmd_from_filename(ctx, "-");
    dup2(null_fd, 0); /* drop the memfd */
  }
  if (rc == 0) {
    reply('O', nft_ctx_get_output_buffer(ctx));
  } else {
    const char *err = nft_ctx_get_error_buffer(ctx);
    reply('E', err && *err ? err : "nft-helper: nft failed without an error message\n");
  }
  nft_ctx_free(ctx);
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  /* The request and reply channels move off fds 0/1: fd 0 carries each script to the library, and
   * anything the library might print on stdout must not end up inside a reply frame. */
  null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
  req_fd = fcntl(0, F_DUPFD_CLOEXEC, 3);
  rep_fd = fcntl(1, F_DUPFD_CLOEXEC, 3);
  if (null_fd < 0 || req_fd < 0 || rep_fd < 0) die("setting up fds");
  if (dup2(null_fd, 0) < 0 || dup2(2, 1) < 0) die("setting up fds");

  if (!load()) {
    const char *e = dlerror();
    char msg[512];
    snprintf(msg, sizeof msg, "nft-helper: cannot load libnftables.so.1: %s\n", e ? e : "unknown error");
    reply('E', msg);
    return 3;
  }
  reply('O', "nft-helper 1");

  for (;;) {
    unsigned char head[5];
    if (!read_all(req_fd, head, sizeof head, true)) return 0; /* the agent closed the channel */
    size_t n = (size_t)head[1] << 24 | (size_t)head[2] << 16 | (size_t)head[3] << 8 | head[4];
    char op = (char)head[0];
    if (n > MAX_REQUEST || (op != 'A' && op != 'C' && op != 'J')) {
      fprintf(stderr, "nft-helper: bad request header (op 0x%02x, %zu bytes)\n", head[0], n);
      return 2;
    }
    char *payload = malloc(n + 1);
    if (!payload) die("allocating the request");
    read_all(req_fd, payload, n, false);
    payload[n] = 0;
    run(op, payload, n);
    free(payload);
  }
}
