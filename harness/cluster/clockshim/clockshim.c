/*
 * libmrclock: an LD_PRELOAD library that fakes a process's wall clock
 * (CLOCK_REALTIME / CLOCK_REALTIME_COARSE, gettimeofday, time) and nothing else.
 *
 * Built from this file by scripts/setup.sh (or on demand by harness/cluster/clock.py)
 * into bin/libmrclock.so, and preloaded into redis-server only: Redis expires keys on
 * its wall clock, while its monotonic clock drives its timers and must stay real.
 * Never preload it into the Python harness.
 *
 * The fake clock is read from a small file that the harness memory-maps too and
 * rewrites (harness/cluster/clock.py, ClockControl). Its layout (native endianness):
 *
 *   offset  0  uint32 magic    0x4b43524d ("MRCK" in little-endian bytes)
 *   offset  4  uint32 version  1
 *   offset  8  uint64 seq      odd while the writer is changing the fields below
 *   offset 16  int64  base_real_ns   the real CLOCK_REALTIME at the last change
 *   offset 24  int64  base_fake_ns   the fake reading at that instant
 *   offset 32  double rate           fake seconds per real second since then
 *   offset 40  uint64 check          base_real ^ base_fake ^ bits(rate) ^ CHECK_SALT
 *
 * fake(real) = base_fake + (real - base_real) * rate. A read is a seqlock read (no
 * system call per clock call): retried while seq is odd or changed, or while the check
 * does not match (a torn read on a weakly ordered CPU, whose writer cannot fence).
 * Without MRCLOCK_FILE, or if the file cannot be mapped, every call is passed through.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define MRCLOCK_MAGIC 0x4b43524du
#define MRCLOCK_VERSION 1u
#define CHECK_SALT 0x6d72636c6f636b31ull /* "mrclock1" */
#define MAX_READ_TRIES 10000

struct mrclock_state {
    uint32_t magic;
    uint32_t version;
    uint64_t seq;
    int64_t base_real_ns;
    int64_t base_fake_ns;
    uint64_t rate_bits;
    uint64_t check;
};

typedef int (*clock_gettime_fn)(clockid_t, struct timespec *);

static struct mrclock_state *state;      /* NULL: pass everything through */
static clock_gettime_fn real_clock_gettime;

__attribute__((constructor)) static void mrclock_init(void) {
    real_clock_gettime = (clock_gettime_fn)dlsym(RTLD_NEXT, "clock_gettime");
    const char *path = getenv("MRCLOCK_FILE");
    if (path == NULL || *path == '\0')
        return;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    void *map = mmap(NULL, sizeof(struct mrclock_state), PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        return;
    struct mrclock_state *candidate = map;
    if (candidate->magic != MRCLOCK_MAGIC || candidate->version != MRCLOCK_VERSION) {
        munmap(map, sizeof(struct mrclock_state));
        return;
    }
    __atomic_store_n(&state, candidate, __ATOMIC_RELEASE);
}

/* The real wall clock; before the constructor ran (another library's constructor may
 * ask for the time first) it goes to the kernel directly rather than risk dlsym there. */
static int real_now(clockid_t clock, struct timespec *ts) {
    if (real_clock_gettime != NULL)
        return real_clock_gettime(clock, ts);
    return (int)syscall(SYS_clock_gettime, clock, ts);
}

/* Seqlock read of the parameters; 0 if no consistent read was possible (then: real time). */
static int read_params(int64_t *base_real, int64_t *base_fake, double *rate) {
    struct mrclock_state *s = __atomic_load_n(&state, __ATOMIC_ACQUIRE);
    if (s == NULL)
        return 0;
    for (int tries = 0; tries < MAX_READ_TRIES; tries++) {
        uint64_t before = __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE);
        if (before & 1u)
            continue;
        int64_t r = __atomic_load_n(&s->base_real_ns, __ATOMIC_RELAXED);
        int64_t f = __atomic_load_n(&s->base_fake_ns, __ATOMIC_RELAXED);
        uint64_t bits = __atomic_load_n(&s->rate_bits, __ATOMIC_RELAXED);
        uint64_t check = __atomic_load_n(&s->check, __ATOMIC_RELAXED);
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        uint64_t after = __atomic_load_n(&s->seq, __ATOMIC_RELAXED);
        if (before != after || check != ((uint64_t)r ^ (uint64_t)f ^ bits ^ CHECK_SALT))
            continue;
        *base_real = r;
        *base_fake = f;
        memcpy(rate, &bits, sizeof bits);
        return 1;
    }
    return 0;
}

static void fake_timespec(struct timespec *ts) {
    int64_t base_real, base_fake;
    double rate;
    if (!read_params(&base_real, &base_fake, &rate))
        return;
    int64_t real = (int64_t)ts->tv_sec * 1000000000LL + ts->tv_nsec;
    int64_t elapsed = real - base_real;
    int64_t fake = base_fake + (rate == 1.0 ? elapsed : (int64_t)((double)elapsed * rate));
    int64_t sec = fake / 1000000000LL, nsec = fake % 1000000000LL;
    if (nsec < 0) {
        nsec += 1000000000LL;
        sec -= 1;
    }
    ts->tv_sec = (time_t)sec;
    ts->tv_nsec = (long)nsec;
}

int clock_gettime(clockid_t clock, struct timespec *ts) {
    int rc = real_now(clock, ts);
    if (rc == 0 && (clock == CLOCK_REALTIME || clock == CLOCK_REALTIME_COARSE))
        fake_timespec(ts);
    return rc;
}

int gettimeofday(struct timeval *restrict tv, void *restrict tz) {
    if (tz != NULL)  /* obsolete; nobody we preload into asks, but keep it zeroed */
        memset(tz, 0, 2 * sizeof(int));
    struct timespec ts;
    int rc = real_now(CLOCK_REALTIME, &ts);
    if (rc != 0)
        return rc;
    fake_timespec(&ts);
    tv->tv_sec = ts.tv_sec;
    tv->tv_usec = (suseconds_t)(ts.tv_nsec / 1000);
    return 0;
}

time_t time(time_t *out) {
    struct timespec ts;
    if (real_now(CLOCK_REALTIME, &ts) != 0)
        return (time_t)-1;
    fake_timespec(&ts);
    if (out != NULL)
        *out = ts.tv_sec;
    return ts.tv_sec;
}
