/* impair.c - a netdev that loses, reorders, duplicates, corrupts and delays the frames of another
 * netdev, both directions, seeded (weir/impair.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <weir/clock.h>
#include <weir/compiler.h>
#include <weir/error.h>
#include <weir/impair.h>

#define TX		0
#define RX		1
#define REORDER_WAIT_NS (1 * WEIR_NS_PER_MS) /* a held frame with no next one goes anyway */
#define DELAY_MAX_NS	(10 * WEIR_NS_PER_S)
#define TX_BATCH	32

/* A frame copied and waiting: transmit (data) or receive (f.data points at data). */
struct held {
	struct held *next;
	uint64_t due;
	struct weir_frame f; /* receive: what the stack gets; transmit: f.len only */
	_Alignas(16) uint8_t data[];
};

struct dir {
	struct weir_prng rng;
	struct held *head, *tail; /* due in order: delay is the same for every frame */
	unsigned count;		  /* queued and reordered, this direction */
	struct held *reordered;	  /* waits for the next frame */
	uint64_t reordered_at;
};

struct impair_dev {
	struct weir_netdev nd;
	struct weir_netdev *inner;
	struct weir_impair_config cfg;
	struct dir dir[2];
	struct weir_impair_stats st;
	char name[64];
};

static const struct weir_netdev_ops impair_ops;

static struct held *held_new(struct impair_dev *d, size_t len)
{
	size_t cap = len < WEIR_ETH_MIN_FRAME ? WEIR_ETH_MIN_FRAME : len;
	struct held *h = malloc(sizeof(*h) + cap);

	if (h == NULL)
		return NULL;
	memset(h, 0, sizeof(*h));
	h->f.data = h->data;
	h->f.len = (uint32_t)len;
	h->f.cap = (uint32_t)cap;
	h->f.dev = &d->nd;
	h->f.drv = h;
	return h;
}

static void enqueue(struct impair_dev *d, int dir, struct held *h, uint64_t now)
{
	struct dir *q = &d->dir[dir];

	h->due = now + d->cfg.delay_ns;
	h->next = NULL;
	if (q->tail != NULL)
		q->tail->next = h;
	else
		q->head = h;
	q->tail = h;
	if (d->cfg.delay_ns != 0)
		d->st.delayed[dir]++;
}

static struct held *dequeue_due(struct impair_dev *d, int dir, uint64_t now)
{
	struct dir *q = &d->dir[dir];
	struct held *h = q->head;

	if (h == NULL || h->due > now)
		return NULL;
	q->head = h->next;
	if (q->head == NULL)
		q->tail = NULL;
	q->count--;
	h->next = NULL;
	return h;
}

/* A reordered frame that waited long enough for a next one goes now. */
static void reorder_timeout(struct impair_dev *d, int dir, uint64_t now)
{
	struct dir *q = &d->dir[dir];

	if (q->reordered != NULL && now - q->reordered_at >= REORDER_WAIT_NS) {
		enqueue(d, dir, q->reordered, now);
		q->reordered = NULL;
	}
}

/* The decisions for one frame, in the documented draw order. */
struct verdict {
	int lost, corrupt, duplicate, reorder;
	uint64_t bits; /* the corrupted byte's position and flip mask */
};

static struct verdict decide(struct impair_dev *d, int dir)
{
	struct weir_prng *r = &d->dir[dir].rng;
	struct verdict v;

	v.lost = weir_prng_unit(r) < d->cfg.loss;
	v.corrupt = weir_prng_unit(r) < d->cfg.corrupt;
	v.duplicate = weir_prng_unit(r) < d->cfg.duplicate;
	v.reorder = weir_prng_unit(r) < d->cfg.reorder;
	(void)weir_prng_unit(r); /* spare: keeps the order the link driver uses */
	v.bits = weir_prng_next(r);
	d->st.frames[dir]++;
	if (v.lost) {
		d->st.dropped[dir]++;
		v.corrupt = v.duplicate = v.reorder = 0;
		return v;
	}
	d->st.corrupted[dir] += (uint64_t)v.corrupt;
	d->st.duplicated[dir] += (uint64_t)v.duplicate;
	d->st.reordered[dir] += (uint64_t)v.reorder;
	return v;
}

static void flip(uint8_t *data, uint32_t len, uint64_t bits)
{
	uint8_t mask = (uint8_t)(bits >> 32);

	data[(bits & 0xffffffffu) % len] ^= mask ? mask : 0x01;
}

/* Places a copy of a frame that survived per v: held back, or queued (twice for a duplicate);
 * a frame held earlier goes right after it. Returns 0 or WEIR_ENOMEM (nothing queued). */
static int place(struct impair_dev *d, int dir, struct held *h, const struct verdict *v,
		 uint64_t now)
{
	struct dir *q = &d->dir[dir];
	struct held *dup = NULL, *before = q->reordered;

	if (v->duplicate) {
		dup = held_new(d, h->f.len);
		if (dup == NULL)
			return WEIR_ENOMEM;
		memcpy(dup->data, h->data, h->f.cap);
		dup->f.flags = h->f.flags;
	}
	q->count += 1u + (dup != NULL);
	if (v->reorder) {
		/* This one waits for the next frame; one held before it goes now. */
		if (before != NULL)
			enqueue(d, dir, before, now);
		q->reordered = h;
		q->reordered_at = now;
		if (dup != NULL)
			enqueue(d, dir, dup, now);
		return 0;
	}
	enqueue(d, dir, h, now);
	if (dup != NULL)
		enqueue(d, dir, dup, now);
	if (before != NULL) {
		enqueue(d, dir, before, now);
		q->reordered = NULL;
	}
	return 0;
}

/* --- transmit --------------------------------------------------------------------------------- */

/* Sends what is due, in order, as far as the device takes it. Returns frames sent. */
static int flush_tx(struct impair_dev *d, uint64_t now)
{
	int sent = 0;

	for (;;) {
		struct weir_iovec iov[TX_BATCH];
		struct weir_tx_frame tf[TX_BATCH];
		struct held *h = d->dir[TX].head;
		int n = 0, took;

		for (; h != NULL && h->due <= now && n < TX_BATCH; h = h->next, n++) {
			iov[n].base = h->data;
			iov[n].len = h->f.len;
			tf[n] = (struct weir_tx_frame){ .iov = &iov[n],
							.iovcnt = 1,
							.len = h->f.len };
		}
		if (n == 0)
			return sent;
		took = weir_netdev_tx_burst(d->inner, tf, n);
		if (took < 0)
			took = 0; /* the device failed: keep them, it may recover */
		for (int i = 0; i < took; i++)
			free(dequeue_due(d, TX, now));
		sent += took;
		if (took < n)
			return sent;
	}
}

static int im_tx_burst(struct weir_netdev *nd, const struct weir_tx_frame *frames, int n)
{
	struct impair_dev *d = (struct impair_dev *)nd;
	uint64_t now = weir_clock_now_ns();
	int i;

	WEIR_EINVAL_IF(frames == NULL && n > 0);
	for (i = 0; i < n; i++) {
		const struct weir_tx_frame *f = &frames[i];
		struct verdict v;
		struct held *h;
		size_t off = 0;

		/* A full queue pushes back, as a full device would. */
		if (d->dir[TX].count + 2 > WEIR_IMPAIR_HOLD_MAX || f->len > 65535)
			break;
		v = decide(d, TX);
		if (v.lost)
			continue;
		h = held_new(d, f->len);
		if (h == NULL)
			break;
		for (unsigned k = 0; k < f->iovcnt; k++) {
			memcpy(h->data + off, f->iov[k].base, f->iov[k].len);
			off += f->iov[k].len;
		}
		if (v.corrupt)
			flip(h->data, h->f.len, v.bits);
		if (place(d, TX, h, &v, now) < 0) {
			free(h);
			break;
		}
	}
	flush_tx(d, now);
	return i;
}

/* --- receive ---------------------------------------------------------------------------------- */

static int im_rx_burst(struct weir_netdev *nd, struct weir_frame **frames, int n)
{
	struct impair_dev *d = (struct impair_dev *)nd;
	uint64_t now = weir_clock_now_ns();
	struct weir_frame *in[TX_BATCH];
	struct held *h;
	int got = 0, m;

	WEIR_EINVAL_IF(frames == NULL && n > 0);
	reorder_timeout(d, RX, now);
	while (got < n && (h = dequeue_due(d, RX, now)) != NULL)
		frames[got++] = &h->f;
	if (got == n || d->dir[RX].count + 2 > WEIR_IMPAIR_HOLD_MAX)
		return got;
	m = weir_netdev_rx_burst(d->inner, in, WEIR_MIN(n - got, TX_BATCH));
	if (m < 0)
		return got > 0 ? got : m;
	for (int i = 0; i < m; i++) {
		struct weir_frame *f = in[i];
		struct verdict v = decide(d, RX);

		if (v.lost) {
			weir_netdev_release(f);
			continue;
		}
		if (v.corrupt) {
			flip(f->data, f->len, v.bits);
			f->flags &= ~(uint32_t)WEIR_FRAME_L4_CSUM_OK; /* the stack checks it */
		}
		/* Straight through when nothing waits before it and nothing else happens to it. */
		if (d->cfg.delay_ns == 0 && d->dir[RX].head == NULL &&
		    d->dir[RX].reordered == NULL && !v.duplicate && !v.reorder) {
			frames[got++] = f;
			continue;
		}
		h = held_new(d, f->len);
		if (h != NULL) {
			memcpy(h->data, f->data, f->len);
			if (h->f.cap > f->len)
				memset(h->data + f->len, 0, h->f.cap - f->len);
			h->f.flags = f->flags;
			if (place(d, RX, h, &v, now) < 0)
				free(h);
		}
		/* The copy goes on; the device's buffer goes back (without memory for a copy, the
		 * frame is lost, as on a full NIC). */
		weir_netdev_release(f);
	}
	while (got < n && (h = dequeue_due(d, RX, now)) != NULL)
		frames[got++] = &h->f;
	return got;
}

static void im_release(struct weir_netdev *nd, struct weir_frame *f)
{
	WEIR_UNUSED(nd);
	if (f->dev != nd) {
		weir_netdev_release(f); /* a frame passed straight through: the device's */
		return;
	}
	free(f->drv);
}

/* --- the rest of the device ------------------------------------------------------------------- */

static void im_get_caps(const struct weir_netdev *nd, struct weir_netdev_caps *caps)
{
	weir_netdev_get_caps(((const struct impair_dev *)nd)->inner, caps);
	/* Whole wire frames with complete checksums both ways (see impair.h). */
	caps->offloads &= ~(uint32_t)(WEIR_OFFLOAD_TX_CSUM_IP4 | WEIR_OFFLOAD_TX_CSUM_L4 |
				      WEIR_OFFLOAD_TX_TSO4 | WEIR_OFFLOAD_RX_CSUM_IP4 |
				      WEIR_OFFLOAD_RX_CSUM_L4);
}

static void im_get_stats(const struct weir_netdev *nd, struct weir_netdev_stats *st)
{
	weir_netdev_get_stats(((const struct impair_dev *)nd)->inner, st);
}

static uint64_t im_next_deadline(struct weir_netdev *nd)
{
	struct impair_dev *d = (struct impair_dev *)nd;
	uint64_t t = weir_netdev_next_deadline_ns(d->inner);

	for (int dir = 0; dir < 2; dir++) {
		const struct dir *q = &d->dir[dir];

		if (q->head != NULL && q->head->due < t)
			t = q->head->due;
		if (q->reordered != NULL && q->reordered_at + REORDER_WAIT_NS < t)
			t = q->reordered_at + REORDER_WAIT_NS;
	}
	return t;
}

static int im_poll(struct weir_netdev *nd)
{
	struct impair_dev *d = (struct impair_dev *)nd;
	uint64_t now = weir_clock_now_ns();
	int work = weir_netdev_poll(d->inner);

	reorder_timeout(d, TX, now);
	work += flush_tx(d, now);
	return work;
}

static int im_rx_buffers_low(struct weir_netdev *nd)
{
	return weir_netdev_rx_buffers_low(((struct impair_dev *)nd)->inner);
}

static void im_close(struct weir_netdev *nd)
{
	struct impair_dev *d = (struct impair_dev *)nd;

	for (int dir = 0; dir < 2; dir++) {
		struct dir *q = &d->dir[dir];

		while (q->head != NULL) {
			struct held *h = q->head;

			q->head = h->next;
			free(h);
		}
		free(q->reordered);
	}
	weir_netdev_close(d->inner);
	free(d);
}

static int im_rx_queue_of(const struct weir_netdev *nd, const struct weir_flow_key *k)
{
	return weir_netdev_rx_queue_of(((const struct impair_dev *)nd)->inner, k);
}

static const struct weir_netdev_ops impair_ops = {
	.rx_burst = im_rx_burst,	      /* required */
	.release = im_release,		      /* required */
	.tx_burst = im_tx_burst,	      /* required */
	.get_caps = im_get_caps,	      /* required */
	.get_stats = im_get_stats,	      /* optional */
	.next_deadline_ns = im_next_deadline, /* optional */
	.poll = im_poll,		      /* optional */
	.rx_buffers_low = im_rx_buffers_low,  /* optional */
	.rx_queue_of = im_rx_queue_of,	      /* optional */
	.close = im_close,		      /* required */
};

static int rate_ok(double r)
{
	return !isnan(r) && r >= 0.0 && r <= 1.0;
}

int weir_impair_wrap(struct weir_netdev *inner, const struct weir_impair_config *cfg,
		     struct weir_netdev **out)
{
	struct impair_dev *d;

	WEIR_EINVAL_IF(inner == NULL || cfg == NULL || out == NULL);
	WEIR_EINVAL_IF(!rate_ok(cfg->loss) || !rate_ok(cfg->reorder) || !rate_ok(cfg->duplicate) ||
		       !rate_ok(cfg->corrupt) || cfg->delay_ns > DELAY_MAX_NS);
	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return WEIR_ENOMEM;
	d->nd.ops = &impair_ops;
	d->inner = inner;
	d->cfg = *cfg;
	/* One generator per direction, both from the seed. */
	weir_prng_seed(&d->dir[TX].rng, cfg->seed);
	weir_prng_seed(&d->dir[RX].rng, cfg->seed ^ 0x9e3779b97f4a7c15ull);
	strncpy(d->name, inner->name ? inner->name : "?", sizeof(d->name) - 8);
	strcat(d->name, "+impair");
	d->nd.name = d->name;
	*out = &d->nd;
	return 0;
}

int weir_impair_get_stats(const struct weir_netdev *dev, struct weir_impair_stats *out)
{
	WEIR_EINVAL_IF(dev == NULL || out == NULL || dev->ops != &impair_ops);
	*out = ((const struct impair_dev *)dev)->st;
	return 0;
}

/* --- the spec string -------------------------------------------------------------------------- */

static int parse_rate(const char *v, size_t len, double *out)
{
	char buf[32], *end;
	double r;

	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, v, len);
	buf[len] = '\0';
	r = strtod(buf, &end);
	if (*end == '%' && end[1] == '\0') {
		r /= 100.0;
		end++;
	}
	if (*end != '\0' || !rate_ok(r))
		return -1;
	*out = r;
	return 0;
}

static int parse_u64(const char *v, size_t len, uint64_t *out, int with_unit)
{
	uint64_t x = 0, mult = 1;
	size_t i = 0;

	if (len == 0)
		return -1;
	for (; i < len && v[i] >= '0' && v[i] <= '9'; i++) {
		if (x > (UINT64_MAX - 9) / 10)
			return -1;
		x = x * 10 + (uint64_t)(v[i] - '0');
	}
	if (i == 0)
		return -1;
	if (with_unit) {
		const char *u = v + i;
		size_t ul = len - i;

		if (ul == 2 && memcmp(u, "ns", 2) == 0)
			mult = 1;
		else if (ul == 2 && memcmp(u, "us", 2) == 0)
			mult = 1000;
		else if (ul == 2 && memcmp(u, "ms", 2) == 0)
			mult = WEIR_NS_PER_MS;
		else if (ul == 1 && u[0] == 's')
			mult = WEIR_NS_PER_S;
		else
			return -1;
		if (x > DELAY_MAX_NS / mult)
			return -1;
	} else if (i != len) {
		return -1;
	}
	*out = x * mult;
	return 0;
}

int weir_impair_parse(const char *spec, struct weir_impair_config *out, const char **why)
{
	const char *p = spec;
	const char *unused;

	if (why == NULL)
		why = &unused;
	*why = "expected key=value[,key=value...] (loss, reorder, dup, corrupt, delay, seed)";
	WEIR_EINVAL_IF(spec == NULL || out == NULL || *spec == '\0');
	memset(out, 0, sizeof(*out));
	while (*p != '\0') {
		const char *comma = strchr(p, ',');
		const char *eq = memchr(p, '=', comma ? (size_t)(comma - p) : strlen(p));
		size_t klen, vlen;
		const char *v;
		int rc;

		if (eq == NULL)
			return WEIR_EINVAL;
		klen = (size_t)(eq - p);
		v = eq + 1;
		vlen = comma ? (size_t)(comma - v) : strlen(v);
#define KEY(s) (klen == sizeof(s) - 1 && memcmp(p, s, klen) == 0)
		if (KEY("loss"))
			rc = parse_rate(v, vlen, &out->loss);
		else if (KEY("reorder"))
			rc = parse_rate(v, vlen, &out->reorder);
		else if (KEY("dup") || KEY("duplicate"))
			rc = parse_rate(v, vlen, &out->duplicate);
		else if (KEY("corrupt"))
			rc = parse_rate(v, vlen, &out->corrupt);
		else if (KEY("delay"))
			rc = parse_u64(v, vlen, &out->delay_ns, 1);
		else if (KEY("seed"))
			rc = parse_u64(v, vlen, &out->seed, 0);
		else {
			*why = "unknown key (loss, reorder, dup, corrupt, delay, seed)";
			return WEIR_EINVAL;
		}
#undef KEY
		if (rc < 0) {
			*why = "a rate is a number in [0,1] or a percentage; delay is N followed "
			       "by "
			       "ns, us, ms or s (at most 10 s); seed is a whole number";
			return WEIR_EINVAL;
		}
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	return 0;
}
