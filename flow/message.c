/* message.c - exact reads, length-prefixed messages and handshakes over the public flow API. */
#include <string.h>

#include <weir/clock.h>
#include <weir/error.h>
#include <weir/message.h>

static uint64_t deadline_of(uint64_t timeout_ns)
{
	return weir_deadline_after(weir_clock_now_ns(), timeout_ns, WEIR_TIMEOUT_NEVER);
}

/* Reads n bytes by deadline; on failure *got says how many arrived. */
static int read_exact_until(struct weir_flow *f, uint8_t *buf, size_t n, uint64_t deadline,
			    size_t *got)
{
	*got = 0;
	while (*got < n) {
		ssize_t r = weir_flow_read_into_until(f, buf + *got, n - *got, deadline);

		if (r < 0)
			return (int)r;
		*got += (size_t)r;
	}
	return 0;
}

/* A failure part-way through a unit: the stream position is lost, so end the flow. */
static int lost_position(struct weir_flow *f, int rc)
{
	weir_flow_abort(f);
	return rc;
}

int weir_flow_read_exact(struct weir_flow *f, void *buf, size_t n, uint64_t timeout_ns)
{
	size_t got;
	int rc;

	WEIR_EINVAL_IF(f == NULL || (buf == NULL && n != 0));
	rc = read_exact_until(f, buf, n, deadline_of(timeout_ns), &got);
	if (rc == 0 || got == 0)
		return rc;
	return lost_position(f, rc == WEIR_EOF ? WEIR_EPROTO : rc);
}

int weir_msg_send(struct weir_flow *f, const void *data, size_t len)
{
	uint8_t hdr[4];
	struct weir_iov iov[2] = { { hdr, sizeof(hdr) }, { data, len } };

	WEIR_EINVAL_IF(f == NULL || (data == NULL && len != 0));
	if (len > WEIR_MSG_MAX)
		return WEIR_EMSGSIZE;
	hdr[0] = (uint8_t)(len >> 24);
	hdr[1] = (uint8_t)(len >> 16);
	hdr[2] = (uint8_t)(len >> 8);
	hdr[3] = (uint8_t)len;
	return weir_flow_writev(f, iov, len ? 2 : 1);
}

ssize_t weir_msg_recv(struct weir_flow *f, void *buf, size_t cap, uint64_t timeout_ns)
{
	uint64_t deadline = deadline_of(timeout_ns);
	uint8_t hdr[4];
	size_t got, len;
	int rc;

	WEIR_EINVAL_IF(f == NULL || (buf == NULL && cap != 0));
	rc = read_exact_until(f, hdr, sizeof(hdr), deadline, &got);
	if (rc < 0) {
		if (got == 0)
			return rc; /* between messages: EOF is the peer's clean end */
		return lost_position(f, rc == WEIR_EOF ? WEIR_EPROTO : rc);
	}
	len = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 | (size_t)hdr[2] << 8 | hdr[3];
	if (len > cap || len > WEIR_MSG_MAX)
		return lost_position(f, WEIR_EMSGSIZE);
	rc = read_exact_until(f, buf, len, deadline, &got);
	if (rc < 0)
		return lost_position(f, rc == WEIR_EOF ? WEIR_EPROTO : rc);
	return (ssize_t)len;
}

int weir_flow_handshake(struct weir_flow *f, const void *magic, size_t len, uint64_t timeout_ns)
{
	uint8_t theirs[256];
	size_t got;
	int rc;

	WEIR_EINVAL_IF(f == NULL || magic == NULL || len == 0 || len > sizeof(theirs));
	/* A plain write: nothing is in flight yet, so it leaves at once, and we do not sit waiting
	 * for an ACK while a peer with other magic resets the flow: we read its bytes (queued ahead
	 * of the RST) and fail on the mismatch, as it does. */
	rc = weir_flow_write(f, magic, len);
	if (rc < 0)
		return rc;
	rc = read_exact_until(f, theirs, len, deadline_of(timeout_ns), &got);
	if (rc < 0)
		return got == 0 && rc == WEIR_EOF
			       ? rc
			       : lost_position(f, rc == WEIR_EOF ? WEIR_EPROTO : rc);
	if (memcmp(theirs, magic, len) != 0)
		return lost_position(f, WEIR_EPROTO);
	return 0;
}
