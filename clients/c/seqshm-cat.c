/*
 * seqshm-cat - print the latest value of a seqshm segment.
 *
 * usage: seqshm-cat [-f] [-j] [-i] [-d SECONDS] [-m BYTES] [--fields] [--verify-crc] NAME
 *
 *   (no flag)     print the newest value followed by a newline, exit; a
 *                 struct value (the segment has a struct schema) as logfmt,
 *                 path=value separated by spaces
 *   -f            follow: print every new value as it is published (values
 *                 published faster than they are printed coalesce); stops
 *                 on SIGINT or SIGTERM (exit 0), or after -d SECONDS
 *   -j            JSON, one object per line: name, seq, len, time_ns,
 *                 writer, and value (a struct value as an object; others a
 *                 string if the value is UTF-8, else value_base64)
 *   -i            print the header, the schema and the writer's state
 *                 instead of a value
 *   -d SECONDS    with -f, stop after SECONDS
 *   -m BYTES      refuse values larger than BYTES (default 64 MiB)
 *   --fields      a struct value as one path=value line per number, bool or
 *                 char field (arrays element by element: cov[0]=...),
 *                 floats as %.17g, NaN, +Inf or -Inf
 *   --verify-crc  check every value read is a test payload (first 8 bytes =
 *                 write number little-endian, last 4 = CRC-32/IEEE of the
 *                 rest); print "reads N torn T lapped L" instead of values;
 *                 exit 1 if any value was torn. With -f it reads back to
 *                 back without waiting, to race the writer as hard as it can
 *
 * Segments are looked up in $SEQSHM_DIR, else /dev/shm. Exit status: 0 ok,
 * 1 failure (with "seqshm-cat: NAME: message" on stderr), 2 usage error.
 *
 * Build: gcc -std=c11 -O2 -Wall -Wextra -Werror -o seqshm-cat seqshm-cat.c
 * (Windows: x86_64-w64-mingw32-gcc, same flags.)
 */
#include "seqshm.h"

#include <getopt.h>
#include <math.h>
#include <signal.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig) {
    (void)sig;
    stop = 1;
}

static const char *prog = "seqshm-cat";

static int fail(const char *name, const char *msg) {
    fprintf(stderr, "%s: %s: %s\n", prog, name, msg);
    return 1;
}

static int usage(void) {
    fprintf(stderr, "usage: %s [-f] [-j] [-i] [-d SECONDS] [-m BYTES] [--fields] [--verify-crc] NAME\n", prog);
    return 2;
}

/* ---- CRC-32/IEEE (reflected, polynomial 0xEDB88320), as Go's crc32.ChecksumIEEE */

static uint32_t crc_table[256];

static void crc_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
}

static uint32_t crc32_ieee(const unsigned char *p, size_t n) {
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++)
        c = crc_table[(c ^ p[i]) & 0xff] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

static uint64_t le64(const unsigned char *p) {
    uint64_t v;
    memcpy(&v, p, 8); /* little-endian host (seqshm.h checks) */
    return v;
}

/* verify reports whether p is the test payload of write seq. */
static int verify(const unsigned char *p, uint64_t n, uint64_t seq) {
    return n >= 12 && le64(p) == seq && seqshm__le32(p + n - 4) == crc32_ieee(p, (size_t)n - 4);
}

/* ---- JSON output ------------------------------------------------------- */

static int valid_utf8(const unsigned char *p, size_t n) {
    uint32_t cp;
    for (size_t i = 0, k; i < n; i += k)
        if ((k = seqshm__utf8_next(p, n, i, &cp)) == 0)
            return 0;
    return 1;
}

static void json_string(FILE *f, const unsigned char *p, size_t n) {
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        unsigned c = p[i];
        switch (c) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (c < 0x20 || c == 0x7f)
                fprintf(f, "\\u%04x", c);
            else
                fputc((int)c, f);
        }
    }
    fputc('"', f);
}

static void base64(FILE *f, const unsigned char *p, size_t n) {
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    fputc('"', f);
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        fputc(tab[v >> 18 & 63], f);
        fputc(tab[v >> 12 & 63], f);
        fputc(i + 1 < n ? tab[v >> 6 & 63] : '=', f);
        fputc(i + 2 < n ? tab[v & 63] : '=', f);
    }
    fputc('"', f);
}

/* writer_status names the writer's state: running, closed, died, ... as
 * seqshm_get_info would, from the lock probe and the header words it needs
 * alone (no PID namespace lookup for every value printed). */
static const char *writer_status(seqshm *h) {
    int64_t pid;
    int held = seqshm_writer_lock(h, &pid);
    return seqshm_state_name(seqshm__load(h->base, SEQSHM_OFF_WRITER_STATE), held < 0 ? -1 : held, seqshm_seq(h),
                             seqshm__load(h->base, SEQSHM_OFF_WRITER_PID));
}

/* ---- Struct values ------------------------------------------------------- */

/* print_number prints element index of the leaf field f at path. */
static void print_number(FILE *out, const seqshm_value *v, const seqshm_field *f, const char *path, uint32_t index,
                         int json) {
    int rc;
    if (f->type == SEQSHM_T_CHAR) {
        char buf[4096]; /* a longer char[N] is cut, still NUL-terminated */
        rc = seqshm_get_str(v, path, buf, sizeof buf);
        if (rc == SEQSHM_OK) {
            if (json)
                json_string(out, (const unsigned char *)buf, strlen(buf));
            else
                fputs(buf, out);
        }
    } else if (f->type == SEQSHM_T_BOOL) {
        int b = 0;
        rc = seqshm_get_bool(v, path, index, &b);
        if (rc == SEQSHM_OK)
            fputs(b ? "true" : "false", out);
    } else if (f->type == SEQSHM_T_FLOAT32 || f->type == SEQSHM_T_FLOAT64) {
        double d = 0;
        rc = seqshm_get_f64(v, path, index, &d);
        if (rc == SEQSHM_OK) {
            const char *q = json ? "\"" : "";
            if (isnan(d))
                fprintf(out, "%sNaN%s", q, q);
            else if (isinf(d))
                fprintf(out, "%s%sInf%s", q, d > 0 ? "+" : "-", q);
            else
                fprintf(out, "%.17g", d);
        }
    } else if (f->type == SEQSHM_T_UINT64) {
        uint64_t u = 0;
        rc = seqshm_get_u64(v, path, index, &u);
        if (rc == SEQSHM_OK)
            fprintf(out, "%llu", (unsigned long long)u);
    } else {
        int64_t i = 0;
        rc = seqshm_get_i64(v, path, index, &i);
        if (rc == SEQSHM_OK)
            fprintf(out, "%lld", (long long)i);
    }
    if (rc != SEQSHM_OK)
        fprintf(out, json ? "null" : "?(%s)", seqshm_strerror(rc));
}

/* print_fields prints the fields with parent `parent` among fields[lo, hi)
 * of the value: mode 'l' one path=value line each, 'f' logfmt, 'j' JSON
 * object members. Every value is fetched by its path with the getters. */
static void print_fields(FILE *out, const seqshm_value *v, int lo, int hi, int parent, const char *prefix, int mode,
                         int *first) {
    const seqshm_schema *s = v->schema;
    for (int i = lo; i < hi; i++) {
        const seqshm_field *f = &s->fields[i];
        if (f->parent != parent)
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s%s", prefix, f->name);
        uint32_t n = f->type == SEQSHM_T_CHAR ? 0 : f->len;
        if (mode == 'j') {
            fprintf(out, "%s\"%s\":", *first ? "" : ",", f->name);
            *first = 0;
        }
        if (mode == 'j' && n > 0)
            fputc('[', out);
        for (uint32_t k = 0; k < (n ? n : 1); k++) {
            char ipath[1100];
            if (n)
                snprintf(ipath, sizeof ipath, "%s[%u]", path, k);
            else
                snprintf(ipath, sizeof ipath, "%s", path);
            if (mode == 'j' && k > 0)
                fputc(',', out);
            if (f->type == SEQSHM_T_STRUCT) {
                char sub[1104];
                snprintf(sub, sizeof sub, "%s.", ipath);
                int sfirst = 1;
                if (mode == 'j')
                    fputc('{', out);
                print_fields(out, v, i + 1, seqshm_subtree_end(s, i), i, sub, mode, mode == 'j' ? &sfirst : first);
                if (mode == 'j')
                    fputc('}', out);
                continue;
            }
            if (mode == 'l') {
                fprintf(out, "%s=", ipath);
            } else if (mode == 'f') {
                fprintf(out, "%s%s=", *first ? "" : " ", ipath);
                *first = 0;
            }
            /* The getters take the array index apart from the path. */
            print_number(out, v, f, path, k, mode != 'l' && (mode == 'j' || f->type == SEQSHM_T_CHAR));
            if (mode == 'l')
                fputc('\n', out);
        }
        if (mode == 'j' && n > 0)
            fputc(']', out);
    }
}

static void print_struct(FILE *out, const seqshm_value *v, int mode) {
    int first = 1;
    if (mode == 'j')
        fputc('{', out);
    print_fields(out, v, 0, v->schema->nfields, -1, "", mode, &first);
    if (mode == 'j')
        fputc('}', out);
}

static void print_value(seqshm *h, const char *name, int json, int fields, const unsigned char *buf,
                        const seqshm_meta *m) {
    int is_struct = h->schema.kind == SEQSHM_KIND_STRUCT;
    seqshm_value v = {&h->schema, buf, (size_t)m->len};
    if (fields) {
        if (is_struct)
            print_struct(stdout, &v, 'l');
        return;
    }
    if (!json) {
        if (is_struct)
            print_struct(stdout, &v, 'f');
        else
            fwrite(buf, 1, (size_t)m->len, stdout);
        fputc('\n', stdout);
        return;
    }
    printf("{\"name\":");
    json_string(stdout, (const unsigned char *)name, strlen(name));
    printf(",\"seq\":%llu,\"len\":%llu,\"time_ns\":%lld,\"writer\":\"%s\",", (unsigned long long)m->seq,
           (unsigned long long)m->len, (long long)m->unix_ns, writer_status(h));
    if (is_struct) {
        printf("\"value\":");
        print_struct(stdout, &v, 'j');
    } else if (valid_utf8(buf, (size_t)m->len)) {
        printf("\"value\":");
        json_string(stdout, buf, (size_t)m->len);
    } else {
        printf("\"value_base64\":");
        base64(stdout, buf, (size_t)m->len);
    }
    printf("}\n");
}

/* schema_text appends the schema's text form ("float64 x [m]; ...") to
 * buf (cap bytes, *len used; output beyond cap is cut). */
static void schema_text(char *buf, size_t cap, size_t *len, const seqshm_schema *s, int lo, int hi, int parent) {
#define APPEND(...) \
    do { \
        if (*len < cap) { \
            int k_ = snprintf(buf + *len, cap - *len, __VA_ARGS__); \
            if (k_ > 0) *len += (size_t)k_ < cap - *len ? (size_t)k_ : cap - *len - 1; \
        } \
    } while (0)
    int first = 1;
    for (int i = lo; i < hi; i++) {
        const seqshm_field *f = &s->fields[i];
        if (f->parent != parent)
            continue;
        APPEND("%s", first ? "" : "; ");
        first = 0;
        if (f->type == SEQSHM_T_STRUCT) {
            APPEND("struct{");
            schema_text(buf, cap, len, s, i + 1, seqshm_subtree_end(s, i), i);
            APPEND("}");
        } else {
            APPEND("%s", seqshm_type_name(f->type));
        }
        if (f->len > 0)
            APPEND("[%u]", f->len);
        APPEND(" %s", f->name);
        if (f->unit[0])
            APPEND(" [%s]", f->unit);
    }
#undef APPEND
}

/* schema_string returns the schema's text form in a malloc'd string. */
static char *schema_string(const seqshm_schema *s) {
    size_t cap = 1 << 18, len = 0;
    char *buf = malloc(cap);
    if (buf == NULL)
        return NULL;
    buf[0] = 0;
    schema_text(buf, cap, &len, s, 0, s->nfields, -1);
    return buf;
}

static int print_info(seqshm *h, const char *name, int json) {
    seqshm_info in;
    int rc = seqshm_get_info(h, &in);
    if (rc != SEQSHM_OK)
        return fail(name, seqshm_errmsg(h, rc));
    const char *st = seqshm_state_name(in.state, in.lock_held, in.seq, in.writer_pid);
    if (json) {
        printf("{\"name\":");
        json_string(stdout, (const unsigned char *)name, strlen(name));
        printf(",\"seq\":%llu,\"counter\":%llu,\"capacity\":%llu,\"slot_size\":%llu,\"slot0\":%llu,\"slot_count\":%llu,"
               "\"total_size\":%llu,\"map_size\":%llu,\"fingerprint\":%llu,\"notify\":%llu,\"flags\":%llu,"
               "\"created_ns\":%lld,\"writer\":\"%s\",\"writer_state\":%llu,\"writer_pid\":%llu,"
               "\"writer_start_ns\":%lld,\"lock_held\":%d,\"lock_pid\":%lld,\"writer_pid_ns\":%llu,"
               "\"pid_ns\":%llu,\"pid_foreign\":%s,\"header_size\":%llu,\"kind\":\"%s\",\"schema_size\":%u,"
               "\"schema\":",
               (unsigned long long)in.seq, (unsigned long long)in.counter, (unsigned long long)in.g.capacity,
               (unsigned long long)in.g.slot_size, (unsigned long long)in.g.slot0,
               (unsigned long long)in.g.slot_count, (unsigned long long)in.g.total_size,
               (unsigned long long)in.map_size, (unsigned long long)in.g.fingerprint,
               (unsigned long long)in.g.notify, (unsigned long long)in.g.flags, (long long)in.created_ns, st,
               (unsigned long long)in.state, (unsigned long long)in.writer_pid, (long long)in.writer_start_ns,
               in.lock_held, (long long)in.lock_pid, (unsigned long long)in.writer_pid_ns,
               (unsigned long long)in.own_pid_ns, in.pid_foreign ? "true" : "false",
               (unsigned long long)in.g.header_size, seqshm_kind_name(h->schema.kind), h->schema.value_size);
        char *text = h->schema.kind == SEQSHM_KIND_STRUCT ? schema_string(&h->schema) : NULL;
        if (text != NULL) {
            json_string(stdout, (const unsigned char *)text, strlen(text));
            free(text);
        } else {
            printf("\"%s\"", seqshm_kind_name(h->schema.kind));
        }
        printf("}\n");
        return 0;
    }
    printf("name:         %s\n", name);
    printf("path:         %s\n", h->path);
    printf("seq:          %llu (counter %llu%s)\n", (unsigned long long)in.seq, (unsigned long long)in.counter,
           in.counter % 2 ? ", write in progress" : "");
    printf("capacity:     %llu\n", (unsigned long long)in.g.capacity);
    printf("slots:        %llu of %llu bytes each, slot 0 at %llu\n", (unsigned long long)in.g.slot_count,
           (unsigned long long)in.g.slot_size, (unsigned long long)in.g.slot0);
    printf("size:         %llu (mapped %llu)\n", (unsigned long long)in.g.total_size,
           (unsigned long long)in.map_size);
    printf("fingerprint:  %#llx\n", (unsigned long long)in.g.fingerprint);
    printf("waiter area:  %llu\n", (unsigned long long)in.g.notify);
    printf("flags:        %#llx\n", (unsigned long long)in.g.flags);
    printf("created:      %lld\n", (long long)in.created_ns);
    printf("writer:       %s (state %llu, pid %llu, lock %s)\n", st, (unsigned long long)in.state,
           (unsigned long long)in.writer_pid,
           in.lock_held < 0 ? "unknown" : in.lock_held ? "held" : "free");
    printf("pid ns:       %llu (%s)\n", (unsigned long long)in.writer_pid_ns,
           in.writer_pid_ns == 0 || in.own_pid_ns == 0 ? "unknown"
           : in.pid_foreign                            ? "another PID namespace: the pid means nothing here"
                                                       : "this PID namespace");
    printf("header size:  %llu\n", (unsigned long long)in.g.header_size);
    if (h->schema.kind == SEQSHM_KIND_STRUCT) {
        char *text = schema_string(&h->schema);
        printf("schema:       struct of %u bytes, fingerprint %#llx: %s\n", h->schema.value_size,
               (unsigned long long)h->schema.fingerprint, text != NULL ? text : "?");
        free(text);
    } else {
        printf("schema:       %s%s\n", seqshm_kind_name(h->schema.kind), h->schema.present ? "" : " (none)");
    }
    return 0;
}

/* parse_size reads BYTES: a number with an optional K, M, G (KiB, MiB, GiB) suffix. */
static int parse_size(const char *a, uint64_t *out) {
    char *end;
    errno = 0;
    unsigned long long n = strtoull(a, &end, 10);
    if (end == a || errno != 0 || a[0] == '-')
        return 0;
    unsigned shift = 0;
    if (*end == 'K' || *end == 'k')
        shift = 10, end++;
    else if (*end == 'M')
        shift = 20, end++;
    else if (*end == 'G')
        shift = 30, end++;
    if (*end == 'i' && shift)
        end++;
    if (*end == 'B' && shift)
        end++;
    if (*end != 0 || n == 0 || n > (UINT64_MAX >> shift))
        return 0;
    *out = (uint64_t)n << shift;
    return 1;
}

int main(int argc, char **argv) {
    int follow = 0, json = 0, info = 0, check = 0, fields = 0;
    double duration = -1;
    uint64_t max_value = 0;
    static const struct option longopts[] = {
        {"verify-crc", no_argument, NULL, 'c'},
        {"fields", no_argument, NULL, 'F'},
        {"max-size", required_argument, NULL, 'm'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "fjid:m:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'f': follow = 1; break;
        case 'j': json = 1; break;
        case 'i': info = 1; break;
        case 'c': check = 1; break;
        case 'F': fields = 1; break;
        case 'm':
            if (!parse_size(optarg, &max_value)) {
                fprintf(stderr, "%s: -m %s: not a size in bytes (such as 1048576 or 64MiB)\n", prog, optarg);
                return usage();
            }
            break;
        case 'd': {
            char *end;
            duration = strtod(optarg, &end);
            if (*end != 0 || duration < 0) {
                fprintf(stderr, "%s: -d %s: not a number of seconds\n", prog, optarg);
                return usage();
            }
            break;
        }
        case 'h': usage(); return 0;
        default: return usage();
        }
    }
    if (optind != argc - 1)
        return usage();
    const char *name = argv[optind];

    seqshm h;
    int rc = seqshm_open(&h, name);
    if (rc != SEQSHM_OK) {
        if (rc == SEQSHM_E_NOENT) {
            fprintf(stderr, "%s: %s: no such segment in %s\n", prog, name, seqshm_dir());
            return 1;
        }
        return fail(name, seqshm_errmsg(&h, rc));
    }
    seqshm_set_max_value(&h, max_value);
    if (info) {
        int r = print_info(&h, name, json);
        seqshm_close(&h);
        return r;
    }
    if (fields && h.schema.kind != SEQSHM_KIND_STRUCT) {
        seqshm_close(&h);
        return fail(name, "--fields: the segment's values are not structs");
    }
    crc_init();
    /* The buffer grows to each value's length (seqshm_read_value), never to
     * the capacity the header claims, which may be up to 1 TiB. */
    unsigned char *buf = NULL;
    size_t cap = 0;
    seqshm_meta m;
    int status = 0;
    if (!follow) {
        rc = seqshm_read_value(&h, &buf, &cap, &m);
        if (rc == SEQSHM_E_LAPPED)
            rc = seqshm_read_value(&h, &buf, &cap, &m);
        if (rc != SEQSHM_OK) {
            status = fail(name, seqshm_errmsg(&h, rc));
        } else if (check) {
            int ok = verify(buf, m.len, m.seq);
            printf("reads 1 torn %d lapped 0\n", !ok);
            status = ok ? 0 : 1;
        } else {
            print_value(&h, name, json, fields, buf, &m);
        }
        free(buf);
        seqshm_close(&h);
        if (fflush(stdout) != 0)
            status = fail(name, "writing output failed");
        return status;
    }

#ifdef SEQSHM_WINDOWS
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
#else
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_DFL);
#endif
    (void)seqshm_enable_futex(&h); /* best effort: without it, poll */

    int64_t end = duration < 0 ? INT64_MAX : seqshm_now_ns() + (int64_t)(duration * 1e9);
    uint64_t last = 0, reads = 0, torn = 0, lapped = 0;
    while (!stop) {
        rc = seqshm_read_value(&h, &buf, &cap, &m);
        if (rc == SEQSHM_OK) {
            if (m.seq < last) {
                status = fail(name, "value went back in time");
                break;
            }
            if (check) {
                reads++;
                if (!verify(buf, m.len, m.seq)) {
                    torn++;
                    fprintf(stderr, "%s: %s: torn value accepted: write %llu, %llu bytes\n", prog, name,
                            (unsigned long long)m.seq, (unsigned long long)m.len);
                }
            } else if (m.seq > last) {
                print_value(&h, name, json, fields, buf, &m);
                if (fflush(stdout) != 0) {
                    status = fail(name, "writing output failed");
                    break;
                }
            }
            last = m.seq;
        } else if (rc == SEQSHM_E_LAPPED) {
            lapped++;
            continue;
        } else if (rc != SEQSHM_E_NOVALUE) {
            status = fail(name, seqshm_errmsg(&h, rc));
            break;
        }
        if (check && reads % 256 != 0)
            continue; /* verifying: read back to back, look at the clock now and then */
        int64_t now = seqshm_now_ns();
        if (now >= end)
            break;
        if (check)
            continue;
        int64_t left = end - now;
        uint64_t seq;
        /* Wake at least every 200 ms to notice a signal or the deadline. */
        (void)seqshm_wait(&h, last, left < 200000000 ? left : 200000000, &seq);
    }
    if (check) {
        printf("reads %llu torn %llu lapped %llu\n", (unsigned long long)reads, (unsigned long long)torn,
               (unsigned long long)lapped);
        if (torn > 0 || reads == 0)
            status = 1;
    }
    free(buf);
    seqshm_close(&h);
    if (fflush(stdout) != 0 && status == 0)
        status = fail(name, "writing output failed");
    return status;
}
