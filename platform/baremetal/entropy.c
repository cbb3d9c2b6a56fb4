/* entropy.c - the bare-metal entropy pool: what a board gathers at boot (a seed a runner placed,
 * timer jitter) and what an image adds later (a hardware source behind a driver, e.g. virtio-rng)
 * is hashed into 32 bytes; weir_entropy_fill() draws from them in counter mode with the clock
 * mixed into every block. docs/porting.md says what each source is worth. */
#include <stdint.h>
#include <string.h>

#include <weir/baremetal.h>
#include <weir/board.h>
#include <weir/clock.h>
#include <weir/error.h>

static uint8_t pool[32]; /* SipHash key (16 bytes) and tweak (16 bytes) */
static uint64_t pool_ctr;

void weir_baremetal_entropy_add(const void *buf, size_t len)
{
	static const uint8_t keys[4][16] = { "weir bm pool k 0", "weir bm pool k 1",
					     "weir bm pool k 2", "weir bm pool k 3" };
	struct {
		uint8_t old[32];
		uint64_t in[2];
	} m;
	uint64_t h[4];

	if (buf == NULL || len == 0)
		return;
	/* The input through two keys of the old pool, then the old pool and that digest through
	 * four fixed keys: what was in the pool is kept, whatever the new bytes are worth. */
	memcpy(m.old, pool, sizeof(pool));
	m.in[0] = weir_siphash24(pool, buf, len);
	m.in[1] = weir_siphash24(pool + 16, buf, len);
	for (unsigned i = 0; i < 4; i++)
		h[i] = weir_siphash24(keys[i], &m, sizeof(m));
	memcpy(pool, h, sizeof(pool));
}

void weir_baremetal_entropy_boot(uint32_t (*sample)(unsigned i), const volatile void *seed,
				 size_t seed_len)
{
	uint32_t samples[256 + 64 / 4];
	const volatile uint8_t *sp = seed;
	uint8_t *sb = (uint8_t *)&samples[256];

	if (seed_len > 64)
		seed_len = 64;
	for (unsigned i = 0; i < 256; i++)
		samples[i] = sample(i);
	for (size_t i = 0; i < sizeof(samples) - 256 * sizeof(uint32_t); i++)
		sb[i] = i < seed_len ? sp[i] : 0;
	weir_baremetal_entropy_add(samples, sizeof(samples));
}

int weir_entropy_fill(void *buf, size_t len)
{
	uint8_t *p = buf;

	WEIR_EINVAL_IF(buf == NULL && len != 0);
	while (len > 0) {
		uint64_t in[3] = { ++pool_ctr, weir_clock_now_ns(), 0 }, out;
		size_t n = len < 8 ? len : 8;

		memcpy(&in[2], pool + 16, 8);
		out = weir_siphash24(pool, in, sizeof(in));
		memcpy(p, &out, n);
		p += n;
		len -= n;
	}
	return 0;
}
