/* dpdk.c - a DPDK rte_ethdev port as a weir netdev: zero-copy receive into mbufs that carry the
 * frame descriptor in their private area, copied transmit, poll mode (see weir/dpdk.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_log.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <weir/config.h>
#define WEIR_LOG_COMPONENT "dpdk"
#include <weir/clock.h>
#include <weir/compiler.h>
#include <weir/dpdk.h>
#include <weir/error.h>
#include <weir/log.h>

#include "netdev_priv.h"

#define DPDK_BURST	  32
#define DPDK_DEFAULT_DESC 1024
/* By default a port counts as busy for this long after it last moved a frame: the loop keeps
 * polling instead of sleeping, so a flow in progress never waits for idle_sleep_us (busy_us=
 * sets another window). */
#define DPDK_BUSY_WINDOW_NS (1 * WEIR_NS_PER_MS)
/* How often the link status is looked at (and changes logged). */
#define DPDK_LINK_CHECK_NS (1 * WEIR_NS_PER_S)
#define DPDK_MAX_ARGS	   128

/* The frame descriptor lives in the mbuf's private area: mbuf <-> frame is a constant offset,
 * and the stack keeps lwIP's pbuf_custom in the frame's stack_priv (stack.c), so receiving a
 * frame allocates and copies nothing. */
#define DPDK_PRIV_SIZE RTE_ALIGN_CEIL(sizeof(struct weir_frame), RTE_MBUF_PRIV_ALIGN)
_Static_assert(_Alignof(struct weir_frame) <= RTE_CACHE_LINE_SIZE,
	       "the mbuf private area starts cache-line aligned");
_Static_assert(sizeof(struct rte_mbuf) % _Alignof(struct weir_frame) == 0,
	       "the frame must be aligned right after the mbuf header");

/* A port opened as several queue objects (shards): what they share. The last one closed stops
 * and closes the port; until then every object's pools stay (the port's rings hold their
 * mbufs). */
struct dpdk_port {
	uint16_t port, nqueues;
	unsigned open; /* queue objects not yet closed */
	struct dpdk_dev *q[WEIR_NETDEV_QUEUES_MAX];
};

#define RSS_KEY_LEN 40

struct dpdk_dev {
	struct weir_netdev nd;
	char name[40];
	uint16_t port;
	uint16_t queue;		  /* the RX/TX queue pair this object uses */
	struct dpdk_port *shared; /* NULL: the port's only queue */
	int rss;		  /* the port spreads flows by rss_key and a RETA of queue j % n */
	uint16_t reta_size;
	uint8_t rss_key[RSS_KEY_LEN];
	uint16_t mtu;
	uint16_t rx_desc, tx_desc;
	uint32_t idle_sleep_us;
	uint64_t busy_ns;  /* with idle_sleep_us: polling goes on this long after the last frame */
	int idle_yield;	   /* an empty receive poll gives the CPU away (sched_yield) */
	uint32_t offloads; /* enum weir_netdev_offload bits in use */
	int tx_csum;	   /* the port fills IPv4 and TCP/UDP checksums */
	int tso;	   /* the port cuts TCP super-frames (RTE_ETH_TX_OFFLOAD_TCP_TSO) */
	int tso_l2_in_mtu; /* ... into segments whose size with the Ethernet header fits the MTU */
	uint32_t tx_seg_room; /* bytes one transmit mbuf holds */
	int rx_csum;	      /* the port flags bad checksums */
	uint32_t rx_trust;    /* WEIR_FRAME_L4_CSUM_OK for every frame of a memory-only port */
	struct rte_mempool *rx_pool, *tx_pool;
	uint32_t pool_size, pool_baseline;
	uint32_t tx_data_room;
	uint32_t held; /* frames the stack holds */
	int closed;    /* closed while the stack still held frames: freed with the last one */
	uint64_t last_busy_ns;
	uint64_t next_link_check_ns;
	int link_up;
	uint8_t mac[WEIR_ETH_ALEN];
	char driver[32];
	struct weir_netdev_stats sw; /* what the driver counts itself (runts, padding, full) */
	uint64_t low_events, csum_bad, tso_frames;
	uint32_t polls;
	int low; /* the pool was low at the last look */
};

/* --- the EAL: once per process ---------------------------------------------------------------- */

enum eal_state { EAL_NONE, EAL_UP, EAL_DONE };
static enum eal_state eal_state;
static char *eal_args_used; /* the user's arguments the EAL was started with */
static char *eal_argbuf;    /* the argument strings (the EAL may keep pointers into them) */
static char *eal_argv[DPDK_MAX_ARGS + 8];
static unsigned open_ports;
/* Opening and closing ports (not the data path): shards close their queues from their own
 * threads. */
static pthread_mutex_t dpdk_lock = PTHREAD_MUTEX_INITIALIZER;
static int eal_loud;		 /* forward DPDK errors at warn level (after open) */
static char eal_last_error[200]; /* the last error DPDK logged, for the one-line message */
static FILE *eal_log_stream;
static int eal_holding; /* rte_eal_init is running with stdout/stderr on /dev/null */
static void hold_line(const char *line, size_t len);

static void eal_log_line(const char *line, size_t len, int level)
{
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	if (len == 0)
		return;
	if (level <= (int)RTE_LOG_ERR) {
		size_t n = WEIR_MIN(len, sizeof(eal_last_error) - 1);

		memcpy(eal_last_error, line, n);
		eal_last_error[n] = '\0';
		if (eal_loud) {
			weir_log_warn("%.*s", (int)len, line);
			return;
		}
	}
	if (eal_holding)
		hold_line(line, len);
	else
		weir_log_debug("%.*s", (int)len, line);
}

/* DPDK's log stream (fopencookie): every line goes to weir's log instead of stdout/syslog. */
static ssize_t eal_log_write(void *cookie, const char *buf, size_t size)
{
	int level = rte_log_cur_msg_loglevel();
	size_t start = 0;

	WEIR_UNUSED(cookie);
	for (size_t i = 0; i < size; i++) {
		if (buf[i] == '\n') {
			eal_log_line(buf + start, i - start, level);
			start = i + 1;
		}
	}
	if (start < size)
		eal_log_line(buf + start, size - start, level);
	return (ssize_t)size;
}

/* rte_eal_init prints its usage text on stdout and "EAL: FATAL" lines on stderr itself, besides
 * logging the same reason through its log (which comes here). A bad argument must end in one line
 * from weir, so stdout and stderr point at /dev/null while it runs; what weir logs meanwhile is
 * kept and written out afterwards. */
static char *held_lines;
static size_t held_len;

static void hold_line(const char *line, size_t len)
{
	char *n = realloc(held_lines, held_len + len + 1);

	if (n == NULL)
		return;
	memcpy(n + held_len, line, len);
	n[held_len + len] = '\n';
	held_lines = n;
	held_len += len + 1;
}

static int eal_init_quietly(int argc, char **argv)
{
	int out, err, nul, rc, e;

	fflush(stdout);
	fflush(stderr);
	nul = open("/dev/null", O_WRONLY | O_CLOEXEC);
	out = dup(STDOUT_FILENO);
	err = dup(STDERR_FILENO);
	if (nul < 0 || out < 0 || err < 0) {
		if (nul >= 0)
			close(nul);
		if (out >= 0)
			close(out);
		if (err >= 0)
			close(err);
		return rte_eal_init(argc, argv);
	}
	eal_holding = 1;
	dup2(nul, STDOUT_FILENO);
	dup2(nul, STDERR_FILENO);
	rc = rte_eal_init(argc, argv);
	e = rte_errno;
	fflush(stdout);
	fflush(stderr);
	dup2(out, STDOUT_FILENO);
	dup2(err, STDERR_FILENO);
	close(out);
	close(err);
	close(nul);
	eal_holding = 0;
	for (size_t i = 0, start = 0; i < held_len; i++) {
		if (held_lines[i] == '\n') {
			weir_log_debug("%.*s", (int)(i - start), held_lines + start);
			start = i + 1;
		}
	}
	free(held_lines);
	held_lines = NULL;
	held_len = 0;
	rte_errno = e;
	return rc;
}

/* The EAL creates its runtime directory (/var/run/dpdk/PREFIX) even without shared files and
 * never removes it. Removed when empty; a directory another process still uses is not empty. */
static void remove_runtime_dir(void)
{
	const char *dir = rte_eal_get_runtime_dir();

	if (dir != NULL && dir[0] != '\0' && rmdir(dir) != 0 && errno != ENOENT &&
	    errno != ENOTEMPTY && errno != EEXIST)
		weir_log_debug("cannot remove %s: %s", dir, strerror(errno));
}

static int has_arg(char *const *argv, int argc, const char *prefix)
{
	size_t n = strlen(prefix);

	for (int i = 1; i < argc; i++)
		if (strncmp(argv[i], prefix, n) == 0)
			return 1;
	return 0;
}

/* Short options may be glued to their value ("-l0", "-c0x3"). */
static int has_short(char *const *argv, int argc, char opt)
{
	for (int i = 1; i < argc; i++)
		if (argv[i][0] == '-' && argv[i][1] == opt)
			return 1;
	return 0;
}

/* "--lcores=0@(0,1,...)": lcore 0 (the calling thread) may run on every CPU it may run on now.
 * The EAL's default pins it to the first CPU, which would put two weir processes on one core. */
static char *lcores_arg(void)
{
	cpu_set_t set;
	size_t cap = 32 + 6 * CPU_SETSIZE, off;
	char *s;

	if (sched_getaffinity(0, sizeof(set), &set) != 0)
		return NULL;
	s = malloc(cap);
	if (s == NULL)
		return NULL;
	off = (size_t)snprintf(s, cap, "--lcores=0@(");
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &set))
			off += (size_t)snprintf(s + off, cap - off, "%d,", c);
	if (s[off - 1] == ',')
		off--;
	snprintf(s + off, cap - off, ")");
	return s;
}

static int eal_start(const char *args)
{
	static char argv0[] = "weir";
	static char in_memory[] = "--in-memory", no_shconf[] = "--no-shconf";
	static char no_telemetry[] = "--no-telemetry";
	static char *lcores;
	char *p;
	int argc = 0, rc;

	if (eal_state == EAL_UP) {
		if (strcmp(args, eal_args_used) != 0) {
			weir__netdev_set_error(
				"the EAL is already running with other arguments ('%s'); "
				"one process has one EAL",
				eal_args_used);
			return WEIR_EBUSY;
		}
		return 0;
	}
	if (eal_state == EAL_DONE) {
		weir__netdev_set_error(
			"the EAL was cleaned up; DPDK cannot start it twice in one process");
		return WEIR_EBUSY;
	}
	eal_argbuf = strdup(args);
	eal_args_used = strdup(args);
	if (eal_argbuf == NULL || eal_args_used == NULL)
		goto nomem;
	eal_argv[argc++] = argv0;
	for (p = strtok(eal_argbuf, " \t\n"); p != NULL; p = strtok(NULL, " \t\n")) {
		if (argc == DPDK_MAX_ARGS) {
			weir__netdev_set_error("more than %d EAL arguments", DPDK_MAX_ARGS - 1);
			free(eal_argbuf);
			free(eal_args_used);
			eal_argbuf = eal_args_used = NULL;
			return WEIR_EINVAL;
		}
		eal_argv[argc++] = p;
	}
	/* No shared files: --in-memory, or --no-shconf where DPDK refuses --in-memory (--no-huge
	 * and --legacy-mem imply legacy memory, which it does not combine with --in-memory). */
	if (!has_arg(eal_argv, argc, "--file-prefix") && !has_arg(eal_argv, argc, "--in-memory") &&
	    !has_arg(eal_argv, argc, "--proc-type") && !has_arg(eal_argv, argc, "--no-shconf")) {
		int legacy = has_arg(eal_argv, argc, "--no-huge") ||
			     has_arg(eal_argv, argc, "--legacy-mem");

		eal_argv[argc++] = legacy ? no_shconf : in_memory;
	}
	if (!has_arg(eal_argv, argc, "--telemetry") && !has_arg(eal_argv, argc, "--no-telemetry"))
		eal_argv[argc++] = no_telemetry;
	if (!has_short(eal_argv, argc, 'l') && !has_short(eal_argv, argc, 'c') &&
	    !has_arg(eal_argv, argc, "--lcores")) {
		if (lcores == NULL)
			lcores = lcores_arg();
		if (lcores != NULL)
			eal_argv[argc++] = lcores;
	}
	eal_argv[argc] = NULL;

	if (eal_log_stream == NULL) {
		cookie_io_functions_t io = { .write = eal_log_write };

		eal_log_stream = fopencookie(NULL, "w", io);
		if (eal_log_stream != NULL) {
			setvbuf(eal_log_stream, NULL, _IOLBF, 0);
			rte_openlog_stream(eal_log_stream);
		}
	}
	eal_last_error[0] = '\0';
	eal_loud = 0;
	rc = eal_init_quietly(argc, eal_argv);
	if (rc < 0) {
		int e = rte_errno;

		weir__netdev_set_error("EAL initialisation failed: %s%s%s",
				       eal_last_error[0] ? eal_last_error : rte_strerror(e),
				       e == EALREADY ? " (already initialised)" : "",
				       e == EACCES ? " (needs root, or hugepages: try --no-huge)"
						   : "");
		free(eal_argbuf);
		free(eal_args_used);
		eal_argbuf = eal_args_used = NULL;
		/* A failed rte_eal_init may be retried only when it failed before touching
		 * anything; it says so with EALREADY otherwise. */
		if (e == EALREADY)
			eal_state = EAL_DONE;
		else
			remove_runtime_dir();
		return rc < 0 && e == EINVAL ? WEIR_EINVAL : WEIR_EIO;
	}
	eal_state = EAL_UP;
	weir_log_debug("EAL up with %d arguments (%s)", argc - 1, args);
	return 0;

nomem:
	free(eal_argbuf);
	free(eal_args_used);
	eal_argbuf = eal_args_used = NULL;
	return WEIR_ENOMEM;
}

/* Cleans the EAL up when no port is open any more: hugepage files, the runtime directory and
 * the virtual devices (a memif socket) go away now, not at exit. */
static void eal_release(void)
{
	if (open_ports > 0 || eal_state != EAL_UP)
		return;
	rte_eal_cleanup();
	eal_state = EAL_DONE;
	remove_runtime_dir();
	free(eal_argbuf);
	free(eal_args_used);
	eal_argbuf = eal_args_used = NULL;
}

/* --- the netdev ops --------------------------------------------------------------------------- */

static inline struct weir_frame *mbuf_frame(struct rte_mbuf *m)
{
	return rte_mbuf_to_priv(m);
}

static int csum_bad(uint64_t ol)
{
	return (ol & RTE_MBUF_F_RX_IP_CKSUM_MASK) == RTE_MBUF_F_RX_IP_CKSUM_BAD ||
	       (ol & RTE_MBUF_F_RX_L4_CKSUM_MASK) == RTE_MBUF_F_RX_L4_CKSUM_BAD;
}

static int dpdk_rx_burst(struct weir_netdev *nd, struct weir_frame **out, int n)
{
	struct dpdk_dev *d = (struct dpdk_dev *)nd;
	struct rte_mbuf *ms[DPDK_BURST];
	uint16_t nb;
	int got = 0;

	if (n > DPDK_BURST)
		n = DPDK_BURST;
	nb = rte_eth_rx_burst(d->port, d->queue, ms, (uint16_t)n);
	for (uint16_t i = 0; i < nb; i++) {
		struct rte_mbuf *m = ms[i];
		struct weir_frame *f = mbuf_frame(m);
		uint32_t cap, len;

		if (m->nb_segs != 1) {
			/* Scatter is never enabled: the data room holds MTU + header. */
			d->sw.rx_oversize++;
			rte_pktmbuf_free(m);
			continue;
		}
		if (d->rx_csum && csum_bad(m->ol_flags)) {
			d->csum_bad++;
			rte_pktmbuf_free(m);
			continue;
		}
		cap = (uint32_t)m->data_len + rte_pktmbuf_tailroom(m);
		if (cap < WEIR_ETH_MIN_FRAME) {
			/* Cannot happen with our data room; never pad past it. */
			d->sw.rx_oversize++;
			rte_pktmbuf_free(m);
			continue;
		}
		f->data = rte_pktmbuf_mtod(m, uint8_t *);
		len = weir__netdev_rx_len(f->data, m->data_len, &d->sw);
		if (len == 0) {
			rte_pktmbuf_free(m);
			continue;
		}
		f->len = len;
		f->cap = cap;
		f->flags = d->rx_trust;
		f->dev = nd;
		f->drv = m;
		d->held++;
		out[got++] = f;
	}
	if (nb > 0 && d->idle_sleep_us != 0)
		d->last_busy_ns = weir_clock_now_ns();
	else if (nb == 0 && d->idle_yield)
		sched_yield(); /* more polling threads than CPUs: let the peer's run */
	return got;
}

static void dpdk_dev_free(struct dpdk_dev *d);

static void dpdk_release(struct weir_netdev *nd, struct weir_frame *f)
{
	struct dpdk_dev *d = (struct dpdk_dev *)nd;
	struct rte_mbuf *m = f->drv;

	WEIR_BUG_ON(d->held == 0);
	WEIR_BUG_ON(mbuf_frame(m) != f);
	d->held--;
	f->drv = NULL;
	rte_pktmbuf_free(m);
	if (d->closed == 1 && d->held == 0)
		dpdk_dev_free(d);
}

/* Asks the port to fill the IPv4 header checksum and, for an unfragmented TCP or UDP datagram,
 * the L4 checksum (the field must hold the pseudo-header sum). A fragment keeps the checksum
 * the stack computed over the whole datagram. */
static void tx_offload(struct rte_mbuf *m)
{
	uint8_t *eth = rte_pktmbuf_mtod(m, uint8_t *);
	struct rte_ipv4_hdr *ip;
	uint32_t ihl;
	uint64_t ol;

	if (m->data_len < WEIR_ETH_HLEN + sizeof(*ip) || eth[12] != 0x08 || eth[13] != 0x00)
		return;
	ip = (struct rte_ipv4_hdr *)(eth + WEIR_ETH_HLEN);
	ihl = (uint32_t)(ip->version_ihl & 0x0f) * 4;
	if ((ip->version_ihl >> 4) != 4 || ihl < sizeof(*ip) || m->data_len < WEIR_ETH_HLEN + ihl)
		return;
	ol = RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM;
	ip->hdr_checksum = 0;
	m->l2_len = WEIR_ETH_HLEN;
	m->l3_len = ihl;
	if ((rte_be_to_cpu_16(ip->fragment_offset) &
	     (RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK)) == 0) {
		uint8_t *l4 = eth + WEIR_ETH_HLEN + ihl;
		uint32_t l4_room = m->data_len - WEIR_ETH_HLEN - ihl;

		if (ip->next_proto_id == IPPROTO_TCP && l4_room >= 20) {
			ol |= RTE_MBUF_F_TX_TCP_CKSUM;
			((struct rte_tcp_hdr *)(void *)l4)->cksum = rte_ipv4_phdr_cksum(ip, ol);
		} else if (ip->next_proto_id == IPPROTO_UDP && l4_room >= 8 &&
			   ((struct rte_udp_hdr *)(void *)l4)->dgram_cksum != 0) {
			/* A zero UDP checksum means "none" (RFC 768): leave it so. */
			ol |= RTE_MBUF_F_TX_UDP_CKSUM;
			((struct rte_udp_hdr *)(void *)l4)->dgram_cksum =
				rte_ipv4_phdr_cksum(ip, ol);
		}
	}
	m->ol_flags |= ol;
}

/* Asks the port to cut the TCP super-frame m (a chain) into segments of gso bytes: headers
 * l4_hlen long at l4_offset, all in the first mbuf. */
static void tx_tso(const struct dpdk_dev *d, struct rte_mbuf *m, const struct weir_tx_frame *tf)
{
	uint8_t *eth = rte_pktmbuf_mtod(m, uint8_t *);
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + WEIR_ETH_HLEN);
	struct rte_tcp_hdr *th = (struct rte_tcp_hdr *)(eth + tf->l4_offset);

	m->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_TCP_SEG |
		       RTE_MBUF_F_TX_TCP_CKSUM;
	m->l2_len = WEIR_ETH_HLEN;
	m->l3_len = tf->l4_offset - WEIR_ETH_HLEN;
	m->l4_len = tf->l4_hlen;
	m->tso_segsz = tf->gso_size;
	/* net_tap (22.11) refuses a segment whose size with its Ethernet header exceeds the MTU
	 * (a full MSS does): it gets segments that fit that test, a little short of the MSS. */
	if (d->tso_l2_in_mtu && (uint32_t)tf->l4_offset + tf->l4_hlen + m->tso_segsz > d->mtu)
		m->tso_segsz = (uint16_t)(d->mtu - tf->l4_offset - tf->l4_hlen);
	ip->hdr_checksum = 0;
	/* With TCP_SEG the pseudo-header sum leaves the length out: each segment adds its own. */
	th->cksum = rte_ipv4_phdr_cksum(ip, m->ol_flags);
}

/* Whether the port can carry frame tf: a frame of the MTU, or a super-frame when it cuts them
 * (its headers in the first mbuf). */
static int tx_fits(const struct dpdk_dev *d, const struct weir_tx_frame *tf)
{
	if (tf->iov == NULL || tf->len == 0)
		return 0;
	if ((tf->flags & WEIR_TX_TSO4) != 0)
		return d->tso && tf->gso_size > 0 && tf->len <= 0xffffu + WEIR_ETH_HLEN &&
		       tf->l4_offset > WEIR_ETH_HLEN &&
		       (uint32_t)tf->l4_offset + tf->l4_hlen <= d->tx_seg_room;
	return tf->len <= d->tx_data_room;
}

/* Copies frame tf into m and, past m's room, into mbufs chained behind it. Returns 0, or -1 when
 * the pool ran out (m, with what was chained to it, is the caller's to free). */
static int tx_fill(struct dpdk_dev *d, struct rte_mbuf *m, const struct weir_tx_frame *tf)
{
	uint32_t done = 0;
	unsigned v = 0;
	size_t voff = 0;

	while (done < tf->len) {
		uint32_t want = WEIR_MIN(d->tx_seg_room, tf->len - done), got = 0;
		uint8_t *dst;

		if (done > 0) {
			struct rte_mbuf *next = rte_pktmbuf_alloc(d->tx_pool);

			if (next == NULL)
				return -1;
			if (rte_pktmbuf_chain(m, next) != 0) {
				rte_pktmbuf_free(next);
				return -1;
			}
		}
		dst = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)want); /* in the last mbuf */
		if (dst == NULL)
			return -1;
		while (got < want && v < tf->iovcnt) {
			size_t l = WEIR_MIN(tf->iov[v].len - voff, (size_t)(want - got));

			memcpy(dst + got, (const uint8_t *)tf->iov[v].base + voff, l);
			got += (uint32_t)l;
			voff += l;
			if (voff == tf->iov[v].len) {
				v++;
				voff = 0;
			}
		}
		if (got < want)
			memset(dst + got, 0, want - got); /* len said more than the iovs held */
		done += want;
	}
	return 0;
}

static int dpdk_tx_burst_once(struct dpdk_dev *d, const struct weir_tx_frame *frames, int n);

/* In bursts of DPDK_BURST while the port takes whole ones. */
static int dpdk_tx_burst(struct weir_netdev *nd, const struct weir_tx_frame *frames, int n)
{
	struct dpdk_dev *d = (struct dpdk_dev *)nd;
	int done = 0;

	while (done < n) {
		int k = WEIR_MIN(n - done, DPDK_BURST);
		int r = dpdk_tx_burst_once(d, frames + done, k);

		if (r < 0)
			return done > 0 ? done : r;
		done += r;
		if (r < k)
			break;
	}
	return done;
}

static int dpdk_tx_burst_once(struct dpdk_dev *d, const struct weir_tx_frame *frames, int n)
{
	struct rte_mbuf *ms[DPDK_BURST];
	uint16_t sent;
	int k;

	if (n > DPDK_BURST)
		n = DPDK_BURST;
	/* Frames the port cannot carry are the caller's bug; send the ones before them. */
	for (k = 0; k < n; k++)
		if (!tx_fits(d, &frames[k]))
			break;
	WEIR_EINVAL_IF(k == 0);
	if (rte_pktmbuf_alloc_bulk(d->tx_pool, ms, (unsigned)k) != 0) {
		d->sw.tx_full++;
		return 0;
	}
	for (int i = 0; i < k; i++) {
		const struct weir_tx_frame *tf = &frames[i];

		if (tx_fill(d, ms[i], tf) < 0) {
			/* Out of mbufs for a super-frame's chain: this one and the rest wait. */
			rte_pktmbuf_free_bulk(ms + i, (unsigned)(k - i));
			k = i;
			d->sw.tx_full++;
			break;
		}
		if ((tf->flags & WEIR_TX_TSO4) != 0) {
			tx_tso(d, ms[i], tf);
			d->tso_frames++;
		} else if (d->tx_csum) {
			tx_offload(ms[i]);
		}
	}
	if (k == 0)
		return 0;
	sent = rte_eth_tx_burst(d->port, d->queue, ms, (uint16_t)k);
	if (sent < k) {
		d->sw.tx_full++;
		rte_pktmbuf_free_bulk(ms + sent, (unsigned)(k - sent));
	}
	if (sent > 0 && d->idle_sleep_us != 0)
		d->last_busy_ns = weir_clock_now_ns();
	return sent;
}

static void dpdk_get_caps(const struct weir_netdev *nd, struct weir_netdev_caps *caps)
{
	const struct dpdk_dev *d = (const struct dpdk_dev *)nd;

	memcpy(caps->mac, d->mac, WEIR_ETH_ALEN);
	caps->mtu = d->mtu;
	caps->offloads = d->offloads;
	caps->rx_queues = d->shared != NULL ? d->shared->nqueues : 1;
	caps->tx_queues = caps->rx_queues;
	caps->rx_queue = d->queue;
	caps->fd = -1;
	caps->poll_mode = 1;
	caps->idle_sleep_us = d->idle_sleep_us;
}

static void dpdk_get_stats(const struct weir_netdev *nd, struct weir_netdev_stats *st)
{
	const struct dpdk_dev *d = (const struct dpdk_dev *)nd;
	struct rte_eth_stats es;

	*st = d->sw;
	if (rte_eth_stats_get(d->port, &es) != 0)
		return;
	if (d->shared != NULL) {
		/* One queue of several: its own counters, where the port keeps them per queue. */
		if (d->queue < RTE_ETHDEV_QUEUE_STAT_CNTRS) {
			st->rx_frames = es.q_ipackets[d->queue];
			st->rx_bytes = es.q_ibytes[d->queue];
			st->tx_frames = es.q_opackets[d->queue];
			st->tx_bytes = es.q_obytes[d->queue];
			st->rx_errors = es.q_errors[d->queue] + d->csum_bad;
		}
		return;
	}
	st->rx_frames = es.ipackets;
	st->rx_bytes = es.ibytes;
	st->tx_frames = es.opackets;
	st->tx_bytes = es.obytes;
	st->rx_errors = es.ierrors + d->csum_bad;
	st->tx_errors = es.oerrors;
	/* Frames the port dropped because no mbuf or descriptor was free. */
	st->rx_nobuf = es.rx_nombuf + es.imissed;
}

static void check_link(struct dpdk_dev *d, uint64_t now)
{
	struct rte_eth_link link;

	d->next_link_check_ns = now + DPDK_LINK_CHECK_NS;
	if (rte_eth_link_get_nowait(d->port, &link) != 0)
		return;
	if ((int)link.link_status != d->link_up) {
		d->link_up = link.link_status;
		weir_log_info("%s: link %s%s", d->name, d->link_up ? "up" : "down",
			      d->link_up ? "" : " (frames sent now are lost)");
	}
}

static uint64_t dpdk_next_deadline(struct weir_netdev *nd)
{
	struct dpdk_dev *d = (struct dpdk_dev *)nd;
	uint64_t now, t;

	if (d->idle_sleep_us == 0)
		return d->next_link_check_ns; /* busy-polled anyway */
	now = weir_clock_now_ns();
	if (now - d->last_busy_ns < d->busy_ns)
		return now; /* traffic is flowing: keep polling */
	t = now + (uint64_t)d->idle_sleep_us * 1000;
	return WEIR_MIN(t, d->next_link_check_ns);
}

static int dpdk_poll(struct weir_netdev *nd)
{
	struct dpdk_dev *d = (struct dpdk_dev *)nd;
	uint64_t now;

	if (d->idle_sleep_us == 0 && (d->polls++ & 1023) != 0)
		return 0; /* busy polling: look at the clock every 1024 polls only */
	now = weir_clock_now_ns();
	if (now >= d->next_link_check_ns)
		check_link(d, now);
	return 0;
}

static int dpdk_rx_buffers_low(struct weir_netdev *nd)
{
	struct dpdk_dev *d = (struct dpdk_dev *)nd;

	/* Cheap test first: the pool cannot be low while the stack holds less than half of it. */
	if (d->held < d->pool_size / 2 ||
	    rte_mempool_avail_count(d->rx_pool) >= d->pool_size / 8 + d->rx_desc / 4) {
		d->low = 0;
		return 0;
	}
	if (!d->low)
		d->low_events++; /* counted once per spell, asked on every poll */
	d->low = 1;
	return 1;
}

/* With dpdk_lock held. */
static void dpdk_dev_free_locked(struct dpdk_dev *d)
{
	rte_mempool_free(d->rx_pool);
	rte_mempool_free(d->tx_pool);
	free(d);
	WEIR_BUG_ON(open_ports == 0);
	open_ports--;
	eal_release();
}

static void dpdk_dev_free(struct dpdk_dev *d)
{
	pthread_mutex_lock(&dpdk_lock);
	dpdk_dev_free_locked(d);
	pthread_mutex_unlock(&dpdk_lock);
}

/* Stops and closes the port; then frees each queue object the stack holds no frame of (the
 * others go with their last frame). With dpdk_lock held. */
static void port_close_locked(uint16_t port, struct dpdk_dev **q, unsigned n)
{
	int rc = rte_eth_dev_stop(port);

	if (rc != 0)
		weir_log_debug("dpdk:port%u: stop: %s", port, rte_strerror(-rc));
	/* Closing the port frees the mbufs in its rings; the stack's are still valid. */
	rte_eth_dev_close(port);
	for (unsigned i = 0; i < n; i++) {
		if (q[i]->held > 0) {
			/* The stack still holds frames (e.g. lwIP freed later than its netdev):
			 * the pool must outlive them, so the last release frees it. */
			weir_log_warn("%s closed with %u frames still held by the stack",
				      q[i]->name, q[i]->held);
			q[i]->closed = 1;
		} else {
			dpdk_dev_free_locked(q[i]);
		}
	}
}

static void dpdk_close(struct weir_netdev *nd)
{
	struct dpdk_dev *d = (struct dpdk_dev *)nd;
	struct dpdk_port *sp = d->shared;

	pthread_mutex_lock(&dpdk_lock);
	if (sp == NULL) {
		port_close_locked(d->port, &d, 1);
	} else if (--sp->open == 0) {
		/* The last queue: the port goes, and every queue object with it. */
		port_close_locked(sp->port, sp->q, sp->nqueues);
		free(sp);
	} else {
		d->closed = 2; /* closed, waiting for the port's last queue */
	}
	pthread_mutex_unlock(&dpdk_lock);
}

/* Which queue the port's RSS sends flow k to: the Toeplitz hash of source address, destination
 * address, source port, destination port (as the packet arrives: the peer's first), its low
 * bits indexing a RETA whose entry j is queue j % n. -1 without RSS (memif, rings: the peer's
 * queue i arrives on our queue i, so a connection stays on the queue it started from). */
static int dpdk_rx_queue_of(const struct weir_netdev *nd, const struct weir_flow_key *k)
{
	const struct dpdk_dev *d = (const struct dpdk_dev *)nd;
	uint8_t in[12];

	if (!d->rss || d->shared == NULL || (k->proto != 6 && k->proto != 17))
		return -1;
	memcpy(in, &k->remote_ip, 4);
	memcpy(in + 4, &k->local_ip, 4);
	in[8] = (uint8_t)(k->remote_port >> 8);
	in[9] = (uint8_t)k->remote_port;
	in[10] = (uint8_t)(k->local_port >> 8);
	in[11] = (uint8_t)k->local_port;
	return (int)((weir__toeplitz(d->rss_key, RSS_KEY_LEN, in, sizeof(in)) &
		      (d->reta_size - 1u)) %
		     d->shared->nqueues);
}

static const struct weir_netdev_ops dpdk_ops = {
	.rx_burst = dpdk_rx_burst,		/* required */
	.release = dpdk_release,		/* required */
	.tx_burst = dpdk_tx_burst,		/* required */
	.get_caps = dpdk_get_caps,		/* required */
	.get_stats = dpdk_get_stats,		/* optional */
	.next_deadline_ns = dpdk_next_deadline, /* optional */
	.poll = dpdk_poll,			/* optional */
	.rx_buffers_low = dpdk_rx_buffers_low,	/* optional */
	.rx_queue_of = dpdk_rx_queue_of,	/* optional */
	.close = dpdk_close,			/* required */
};

/* --- opening a port --------------------------------------------------------------------------- */

static uint32_t default_pool_size(uint32_t rx_desc)
{
	/* The RX ring, what lwIP may hold (four full receive windows and the out-of-order queue
	 * cap), and bursts in flight; rounded up to 2^n - 1, the mempool's best size. */
	uint64_t want = rx_desc + 4 * ((uint64_t)CONFIG_LWIP_TCP_WND / CONFIG_LWIP_TCP_MSS + 1) +
			2 * DPDK_BURST;
	uint32_t size = 4095;

#if defined(CONFIG_LWIP_TCP_OOSEQ_MAX_PBUFS)
	want += CONFIG_LWIP_TCP_OOSEQ_MAX_PBUFS;
#endif
	while (size < want && size < (1u << 24))
		size = size * 2 + 1;
	return size;
}

/* Sets up n queue pairs of q[0]'s port, q[i] using pair i with pools of its own; n > 1 turns on
 * RSS over IPv4 TCP/UDP where the port has it, with our key and a RETA of j % n. */
static int port_setup_queues(struct dpdk_dev **q, unsigned n, const struct weir_dpdk_config *cfg)
{
	static unsigned pool_seq;
	struct dpdk_dev *d = q[0];
	struct rte_eth_conf conf;
	struct rte_eth_dev_info info;
	struct rte_ether_addr mac;
	uint64_t rx_csum = RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | RTE_ETH_RX_OFFLOAD_TCP_CKSUM |
			   RTE_ETH_RX_OFFLOAD_UDP_CKSUM;
	uint64_t tx_csum = RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_TCP_CKSUM |
			   RTE_ETH_TX_OFFLOAD_UDP_CKSUM;
	uint64_t tso = RTE_ETH_TX_OFFLOAD_TCP_TSO | RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
	uint16_t mtu = 0;
	uint32_t data_room;
	char pname[RTE_MEMPOOL_NAMESIZE];
	int rc, socket;

	rc = rte_eth_dev_info_get(d->port, &info);
	if (rc != 0) {
		weir__netdev_set_error("port %u: no device info: %s", d->port, rte_strerror(-rc));
		return WEIR_ENODEV;
	}
	snprintf(d->driver, sizeof(d->driver), "%s", info.driver_name ? info.driver_name : "?");
	/* Shared memory between processes (memif) or rings within one: a frame is a copy made in
	 * memory and never crossed a wire, so its TCP/UDP checksum needs no check. */
	if (strcmp(d->driver, "net_memif") == 0 || strcmp(d->driver, "net_ring") == 0)
		d->rx_trust = WEIR_FRAME_L4_CSUM_OK;
	if (info.max_rx_queues < 1 || info.max_tx_queues < 1) {
		weir__netdev_set_error("port %u (%s) has no RX or no TX queue", d->port, d->driver);
		return WEIR_ENOTSUP;
	}
	if (cfg->mtu != 0) {
		mtu = cfg->mtu;
	} else if (rte_eth_dev_get_mtu(d->port, &mtu) != 0 || mtu == 0) {
		mtu = RTE_ETHER_MTU;
	}
	if (cfg->mtu == 0 && mtu > RTE_ETHER_MTU)
		mtu = RTE_ETHER_MTU;
	if (mtu < 576 || mtu > 9000 || (info.max_mtu != 0 && mtu > info.max_mtu) ||
	    mtu < info.min_mtu) {
		weir__netdev_set_error(
			"port %u (%s): MTU %u is outside 576..9000 or the port's %u..%u", d->port,
			d->driver, mtu, info.min_mtu, info.max_mtu);
		return cfg->mtu != 0 ? WEIR_EINVAL : WEIR_ENOTSUP;
	}
	d->mtu = mtu;

	memset(&conf, 0, sizeof(conf));
	conf.rxmode.mtu = mtu;
	if ((info.rx_offload_capa & rx_csum) == rx_csum) {
		conf.rxmode.offloads |= rx_csum;
		d->rx_csum = 1;
	}
	if ((info.tx_offload_capa & tx_csum) == tx_csum) {
		conf.txmode.offloads |= tx_csum;
		d->tx_csum = 1;
		d->offloads |= WEIR_OFFLOAD_TX_CSUM_IP4 | WEIR_OFFLOAD_TX_CSUM_L4;
		/* TSO needs the checksums too, and chains of mbufs for a 64 KiB super-frame. */
		/* A 64 KiB super-frame is up to 33 mbufs: the port must take chains that long. */
		if ((info.tx_offload_capa & tso) == tso && !cfg->no_tso &&
		    (info.tx_desc_lim.nb_seg_max == 0 || info.tx_desc_lim.nb_seg_max >= 34) &&
		    (info.tx_desc_lim.nb_mtu_seg_max == 0 ||
		     info.tx_desc_lim.nb_mtu_seg_max >= 34)) {
			conf.txmode.offloads |= tso;
			d->tso = 1;
			d->tso_l2_in_mtu = strcmp(d->driver, "net_tap") == 0;
			d->offloads |= WEIR_OFFLOAD_TX_TSO4;
		}
	}
	if (n > info.max_rx_queues || n > info.max_tx_queues) {
		weir__netdev_set_error("port %u (%s) has %u RX and %u TX queues, not %u", d->port,
				       d->driver, info.max_rx_queues, info.max_tx_queues, n);
		return WEIR_ENOTSUP;
	}
	if (n > 1 &&
	    (info.flow_type_rss_offloads &
	     (RTE_ETH_RSS_NONFRAG_IPV4_TCP | RTE_ETH_RSS_NONFRAG_IPV4_UDP)) != 0 &&
	    info.hash_key_size == RSS_KEY_LEN && info.reta_size >= n &&
	    (info.reta_size & (info.reta_size - 1)) == 0) {
		/* Our key: its hash is one we can compute (dpdk_rx_queue_of). */
		if (weir_entropy_fill(d->rss_key, RSS_KEY_LEN) != 0)
			return WEIR_EIO;
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_key = d->rss_key;
		conf.rx_adv_conf.rss_conf.rss_key_len = RSS_KEY_LEN;
		conf.rx_adv_conf.rss_conf.rss_hf =
			info.flow_type_rss_offloads &
			(RTE_ETH_RSS_NONFRAG_IPV4_TCP | RTE_ETH_RSS_NONFRAG_IPV4_UDP);
		d->rss = 1;
		d->reta_size = info.reta_size;
	}
	rc = rte_eth_dev_configure(d->port, (uint16_t)n, (uint16_t)n, &conf);
	if (rc != 0) {
		weir__netdev_set_error(
			"port %u (%s): configure with %u RX and %u TX queue%s failed: %s", d->port,
			d->driver, n, n, n == 1 ? "" : "s", rte_strerror(-rc));
		return WEIR_ENOTSUP;
	}
	d->rx_desc = cfg->rx_desc ? cfg->rx_desc : DPDK_DEFAULT_DESC;
	d->tx_desc = cfg->tx_desc ? cfg->tx_desc : DPDK_DEFAULT_DESC;
	rc = rte_eth_dev_adjust_nb_rx_tx_desc(d->port, &d->rx_desc, &d->tx_desc);
	if (rc != 0) {
		weir__netdev_set_error("port %u (%s): ring sizes: %s", d->port, d->driver,
				       rte_strerror(-rc));
		return WEIR_ENOTSUP;
	}

	socket = rte_eth_dev_socket_id(d->port);
	if (socket < 0)
		socket = (int)SOCKET_ID_ANY;
	/* Room for a frame of MTU + Ethernet header + a VLAN tag, and the PMD's headroom. */
	data_room = WEIR_MAX((uint32_t)RTE_MBUF_DEFAULT_BUF_SIZE,
			     (uint32_t)RTE_PKTMBUF_HEADROOM + mtu + WEIR_ETH_HLEN + 4);
	d->pool_size = cfg->mbufs ? cfg->mbufs : default_pool_size(d->rx_desc);
	if (d->pool_size < (uint32_t)d->rx_desc + 2 * DPDK_BURST) {
		weir__netdev_set_error("mbufs=%u cannot even fill the RX ring of %u", d->pool_size,
				       d->rx_desc);
		return WEIR_EINVAL;
	}
	d->tx_seg_room = data_room - RTE_PKTMBUF_HEADROOM;
	d->tx_data_room = WEIR_MIN(d->tx_seg_room, (uint32_t)mtu + WEIR_ETH_HLEN + 4);
	for (unsigned i = 0; i < n; i++) {
		struct dpdk_dev *e = q[i];

		if (i > 0) { /* what the port is, every queue object knows */
			e->mtu = d->mtu;
			e->offloads = d->offloads;
			e->tx_csum = d->tx_csum;
			e->tso = d->tso;
			e->tso_l2_in_mtu = d->tso_l2_in_mtu;
			e->rx_csum = d->rx_csum;
			e->rx_trust = d->rx_trust;
			e->rx_desc = d->rx_desc;
			e->tx_desc = d->tx_desc;
			e->pool_size = d->pool_size;
			e->tx_seg_room = d->tx_seg_room;
			e->tx_data_room = d->tx_data_room;
			e->rss = d->rss;
			e->reta_size = d->reta_size;
			memcpy(e->rss_key, d->rss_key, RSS_KEY_LEN);
			memcpy(e->driver, d->driver, sizeof(e->driver));
		}
		/* Pools per queue: a shard's buffers are its own (no lcore cache for threads that
		 * are not EAL lcores, so sharing one would be a shared ring per frame). */
		snprintf(pname, sizeof(pname), "weir_rx%u_%u", d->port, pool_seq);
		e->rx_pool = rte_pktmbuf_pool_create(pname, e->pool_size, 256, DPDK_PRIV_SIZE,
						     (uint16_t)data_room, socket);
		snprintf(pname, sizeof(pname), "weir_tx%u_%u", d->port, pool_seq++);
		/* With TSO a burst of super-frames is up to 33 mbufs each. */
		e->tx_pool = rte_pktmbuf_pool_create(
			pname, 2u * e->tx_desc + (e->tso ? 34u : 4u) * DPDK_BURST - 1, 64, 0,
			(uint16_t)data_room, socket);
		if (e->rx_pool == NULL || e->tx_pool == NULL) {
			weir__netdev_set_error(
				"mbuf pools (%u + %u mbufs of %u bytes%s): %s (with --no-huge, "
				"give the EAL more memory: -m MB)",
				e->pool_size, 2u * e->tx_desc, data_room,
				n > 1 ? ", per queue" : "", rte_strerror(rte_errno));
			return WEIR_ENOMEM;
		}
		rc = rte_eth_rx_queue_setup(d->port, (uint16_t)i, e->rx_desc, (unsigned)socket,
					    NULL, e->rx_pool);
		if (rc == 0)
			rc = rte_eth_tx_queue_setup(d->port, (uint16_t)i, e->tx_desc,
						    (unsigned)socket, NULL);
		if (rc != 0) {
			weir__netdev_set_error("port %u (%s): queue %u setup: %s", d->port,
					       d->driver, i, rte_strerror(-rc));
			return WEIR_ENOTSUP;
		}
	}
	rc = rte_eth_dev_start(d->port);
	if (rc != 0) {
		weir__netdev_set_error("port %u (%s): start: %s", d->port, d->driver,
				       rte_strerror(-rc));
		return WEIR_EIO;
	}
	if (d->rss) {
		/* RETA entry j is queue j % n (what dpdk_rx_queue_of assumes). */
		struct rte_eth_rss_reta_entry64
			reta[RTE_ETH_RSS_RETA_SIZE_512 / RTE_ETH_RETA_GROUP_SIZE];

		memset(reta, 0, sizeof(reta));
		for (unsigned j = 0; j < d->reta_size && j < RTE_ETH_RSS_RETA_SIZE_512; j++) {
			reta[j / RTE_ETH_RETA_GROUP_SIZE].mask |= 1ull
								  << (j % RTE_ETH_RETA_GROUP_SIZE);
			reta[j / RTE_ETH_RETA_GROUP_SIZE].reta[j % RTE_ETH_RETA_GROUP_SIZE] =
				(uint16_t)(j % n);
		}
		if (d->reta_size > RTE_ETH_RSS_RETA_SIZE_512 ||
		    rte_eth_dev_rss_reta_update(d->port, reta, d->reta_size) != 0) {
			/* The port keeps its own table: where a flow lands is unknown. */
			weir_log_warn("dpdk:port%u (%s): cannot set the RSS table; connections may "
				      "come back on another shard's queue",
				      d->port, d->driver);
			for (unsigned i = 0; i < n; i++)
				q[i]->rss = 0;
		}
	}
	if (rte_eth_macaddr_get(d->port, &mac) == 0)
		for (unsigned i = 0; i < n; i++)
			memcpy(q[i]->mac, mac.addr_bytes, WEIR_ETH_ALEN);
	for (unsigned i = 0; i < n; i++)
		q[i]->pool_baseline = rte_mempool_in_use_count(q[i]->rx_pool);
	return 0;
}

int weir_dpdk_open_queues(const struct weir_dpdk_config *cfg, unsigned n, struct weir_netdev **out)
{
	struct dpdk_dev *q[WEIR_NETDEV_QUEUES_MAX] = { 0 };
	struct dpdk_port *sp = NULL;
	int rc, started_eal;
	uint16_t nports;
	unsigned made = 0;

	WEIR_EINVAL_IF(cfg == NULL || out == NULL || cfg->eal_args == NULL || n == 0 ||
		       n > WEIR_NETDEV_QUEUES_MAX);
	if ((cfg->mtu != 0 && (cfg->mtu < 576 || cfg->mtu > 9000)) ||
	    (cfg->rx_desc != 0 && cfg->rx_desc < 64) || (cfg->tx_desc != 0 && cfg->tx_desc < 64) ||
	    cfg->idle_sleep_us > 1000000 || (cfg->busy_us_set && cfg->busy_us > 1000000)) {
		weir__netdev_set_error(
			"config: mtu 576..9000, rx_desc/tx_desc >= 64, idle_sleep_us and busy_us "
			"<= 1000000");
		return WEIR_EINVAL;
	}
	pthread_mutex_lock(&dpdk_lock);
	started_eal = eal_state == EAL_NONE;
	rc = eal_start(cfg->eal_args);
	if (rc < 0) {
		pthread_mutex_unlock(&dpdk_lock);
		return rc;
	}
	if (n > 1 && (sp = calloc(1, sizeof(*sp))) == NULL) {
		rc = WEIR_ENOMEM;
		goto fail;
	}
	for (; made < n; made++) {
		q[made] = weir__zalloc_lines(1, sizeof(*q[made])); /* a shard's each */
		if (q[made] == NULL) {
			rc = WEIR_ENOMEM;
			goto fail;
		}
		open_ports++;
	}
	nports = rte_eth_dev_count_avail();
	if (!rte_eth_dev_is_valid_port(cfg->port)) {
		weir__netdev_set_error(
			"no DPDK port %u (%u port%s; give a device: --vdev=net_tap0 or "
			"a PCI address with -a)",
			cfg->port, nports, nports == 1 ? "" : "s");
		rc = WEIR_ENODEV;
		goto fail;
	}
	for (unsigned i = 0; i < n; i++) {
		struct dpdk_dev *d = q[i];

		d->port = cfg->port;
		d->queue = (uint16_t)i;
		d->shared = sp;
		d->idle_sleep_us = cfg->idle_sleep_us;
		d->busy_ns = cfg->busy_us_set ? (uint64_t)cfg->busy_us * 1000 : DPDK_BUSY_WINDOW_NS;
		d->idle_yield = cfg->idle_yield;
		if (n > 1)
			snprintf(d->name, sizeof(d->name), "dpdk:port%u/%u", d->port, i);
		else
			snprintf(d->name, sizeof(d->name), "dpdk:port%u", d->port);
		d->nd.ops = &dpdk_ops;
		d->nd.name = d->name;
	}
	rc = port_setup_queues(q, n, cfg);
	if (rc < 0) {
		rte_eth_dev_stop(cfg->port);
		rte_eth_dev_close(cfg->port);
		goto fail;
	}
	if (sp != NULL) {
		sp->port = cfg->port;
		sp->nqueues = (uint16_t)n;
		sp->open = n;
		memcpy(sp->q, q, n * sizeof(q[0]));
	}
	for (unsigned i = 0; i < n; i++) {
		check_link(q[i], weir_clock_now_ns());
		out[i] = &q[i]->nd;
	}
	weir_log_info("%s (%s): mtu %u, %u queue pair%s%s, rings %u/%u, %u receive mbufs%s (%u in "
		      "use at start), checksum offload tx %s rx %s, TSO %s, link %s, %s",
		      q[0]->name, q[0]->driver, q[0]->mtu, n, n == 1 ? "" : "s",
		      n == 1	  ? ""
		      : q[0]->rss ? " (RSS)"
				  : " (no RSS: queue i pairs with the peer's)",
		      q[0]->rx_desc, q[0]->tx_desc, q[0]->pool_size, n == 1 ? "" : " per queue",
		      q[0]->pool_baseline, q[0]->tx_csum ? "on" : "off",
		      q[0]->rx_csum ? "on" : "off", q[0]->tso ? "on" : "off",
		      q[0]->link_up ? "up" : "down",
		      q[0]->idle_sleep_us ? "sleeps when idle" : "busy-polls");
	eal_loud = 1;
	pthread_mutex_unlock(&dpdk_lock);
	return 0;

fail:
	for (unsigned i = 0; i < made; i++) {
		rte_mempool_free(q[i]->rx_pool);
		rte_mempool_free(q[i]->tx_pool);
		free(q[i]);
		open_ports--;
	}
	free(sp);
	if (started_eal)
		eal_release();
	pthread_mutex_unlock(&dpdk_lock);
	return rc;
}

int weir_dpdk_open(const struct weir_dpdk_config *cfg, struct weir_netdev **out)
{
	return weir_dpdk_open_queues(cfg, 1, out);
}

int weir_dpdk_get_stats(struct weir_netdev *nd, struct weir_dpdk_stats *out)
{
	struct dpdk_dev *d = (struct dpdk_dev *)nd;
	struct rte_eth_link link;

	WEIR_EINVAL_IF(nd == NULL || out == NULL || nd->ops != &dpdk_ops);
	memset(out, 0, sizeof(*out));
	/* TX mbufs a PMD keeps until its ring wraps are released now where it can. */
	rte_eth_tx_done_cleanup(d->port, d->queue, 0);
	out->pool_size = d->pool_size;
	out->pool_in_use = rte_mempool_in_use_count(d->rx_pool);
	out->pool_baseline = d->pool_baseline;
	out->frames_held = d->held;
	out->tx_pool_in_use = rte_mempool_in_use_count(d->tx_pool);
	out->low_buffer_events = d->low_events;
	out->rx_csum_bad = d->csum_bad;
	out->tx_tso = d->tso_frames;
	if (rte_eth_link_get_nowait(d->port, &link) == 0) {
		out->link_up = link.link_status;
		out->link_speed_mbps = link.link_speed;
	}
	out->port = d->port;
	memcpy(out->driver, d->driver, sizeof(out->driver));
	return 0;
}

/* --- the spec string -------------------------------------------------------------------------- */

static int parse_u32(const char *s, size_t len, uint32_t max, uint32_t *out)
{
	uint64_t v = 0;

	WEIR_EINVAL_IF(len == 0 || len > 10);
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return WEIR_EINVAL;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	WEIR_EINVAL_IF(v > max);
	*out = (uint32_t)v;
	return 0;
}

int weir_dpdk_parse_spec(const char *spec, struct weir_dpdk_config *cfg, char *buf, size_t size)
{
	static const struct {
		const char *key;
		uint32_t max;
	} keys[] = {
		{ "port", 65535 },    { "idle_sleep_us", 1000000 }, { "rx_desc", 65535 },
		{ "tx_desc", 65535 }, { "mbufs", 1u << 24 },	    { "mtu", 9000 },
		{ "tso", 1 },	      { "idle_yield", 1 },	    { "busy_us", 1000000 },
	};
	size_t end;

	WEIR_EINVAL_IF(spec == NULL || cfg == NULL || buf == NULL);
	memset(cfg, 0, sizeof(*cfg));
	end = strlen(spec);
	/* Take known ",KEY=VALUE" items off the end; the first unknown one ends the list. */
	for (;;) {
		const char *comma = NULL, *eq;
		size_t klen;
		unsigned k;
		uint32_t v;

		for (size_t i = end; i > 0; i--) {
			if (spec[i - 1] == ',') {
				comma = spec + i - 1;
				break;
			}
		}
		if (comma == NULL)
			break;
		eq = memchr(comma + 1, '=', (size_t)(spec + end - comma - 1));
		if (eq == NULL)
			break;
		klen = (size_t)(eq - comma - 1);
		for (k = 0; k < WEIR_ARRAY_SIZE(keys); k++)
			if (strlen(keys[k].key) == klen &&
			    memcmp(keys[k].key, comma + 1, klen) == 0)
				break;
		if (k == WEIR_ARRAY_SIZE(keys))
			break;
		if (parse_u32(eq + 1, (size_t)(spec + end - eq - 1), keys[k].max, &v) < 0) {
			weir__netdev_set_error("spec: '%.*s' needs a number of at most %u",
					       (int)klen, comma + 1, keys[k].max);
			return WEIR_EINVAL;
		}
		switch (k) {
		case 0:
			cfg->port = (uint16_t)v;
			break;
		case 1:
			cfg->idle_sleep_us = v;
			break;
		case 2:
			cfg->rx_desc = (uint16_t)v;
			break;
		case 3:
			cfg->tx_desc = (uint16_t)v;
			break;
		case 4:
			cfg->mbufs = v;
			break;
		case 6:
			cfg->no_tso = v == 0;
			break;
		case 7:
			cfg->idle_yield = (int)v;
			break;
		case 8:
			cfg->busy_us = v;
			cfg->busy_us_set = 1;
			break;
		default:
			cfg->mtu = (uint16_t)v;
			break;
		}
		end = (size_t)(comma - spec);
	}
	if (end >= size) {
		weir__netdev_set_error("spec: EAL arguments longer than %zu bytes", size - 1);
		return WEIR_EINVAL;
	}
	memcpy(buf, spec, end);
	buf[end] = '\0';
	cfg->eal_args = buf;
	return 0;
}

static int dpdk_open_queues_spec(const char *args, const struct weir_netdev_params *params,
				 unsigned n, struct weir_netdev **out)
{
	struct weir_dpdk_config cfg;
	char eal[1024];
	int rc = weir_dpdk_parse_spec(args, &cfg, eal, sizeof(eal));

	if (rc < 0)
		return rc;
	/* The port is set to the MTU the caller asks for, unless the spec says otherwise. */
	if (cfg.mtu == 0)
		cfg.mtu = params->mtu;
	return weir_dpdk_open_queues(&cfg, n, out);
}

static int dpdk_open_spec(const char *args, const struct weir_netdev_params *params,
			  struct weir_netdev **out)
{
	return dpdk_open_queues_spec(args, params, 1, out);
}

const struct weir__netdev_driver weir__netdev_driver_dpdk = {
	.prefix = "dpdk",
	.usage = "dpdk:EAL ARGS[,port=N][,KEY=VALUE]...",
	.open = dpdk_open_spec,
	.open_queues = dpdk_open_queues_spec,
};
