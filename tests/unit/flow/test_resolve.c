/* test_resolve.c - resolve.h without a network: IANA service names, the hosts table, reverse
 * lookups, and the arguments weir_resolve refuses (DNS itself: tests/integration/tap_resolve.sh).
 */
#include <arpa/inet.h>
#include <string.h>

#include <weir/clock.h>
#include <weir/error.h>
#include <weir/resolve.h>
#include <weir/udp.h>

#include "dns_priv.h"
#include "host.h"
#include "pair.h"
#include "weir_tests.h"

static struct host_fixture h;

static void setup(void)
{
	host_fixture_up(&h);
}

static void teardown(void)
{
	host_fixture_down(&h);
}

START_TEST(test_service_table)
{
	uint16_t port;

	ck_assert_int_eq(weir_service_port("http", &port), 0);
	ck_assert_uint_eq(port, 80);
	ck_assert_int_eq(weir_service_port("ssh", &port), 0);
	ck_assert_uint_eq(port, 22);
	ck_assert_int_eq(weir_service_port("8080", &port), 0);
	ck_assert_uint_eq(port, 8080);
	ck_assert_int_eq(weir_service_port("no-such-service", &port), WEIR_ENOADDR);
	ck_assert_int_eq(weir_service_port("0", &port), WEIR_EINVAL);
	ck_assert_int_eq(weir_service_port("65536", &port), WEIR_EINVAL);
	ck_assert_int_eq(weir_service_port("80x", &port), WEIR_EINVAL);
	ck_assert_int_eq(weir_service_port(NULL, &port), WEIR_EINVAL);
	ck_assert_str_eq(weir_service_name(443), "https");
	ck_assert_str_eq(weir_service_name(53), "domain");
	ck_assert_ptr_null(weir_service_name(1));
}
END_TEST

START_TEST(test_hosts_table_and_reverse_lookup)
{
	struct weir_ipaddr a, b, got[4];
	char name[64];

	weir_ipaddr_parse("192.0.2.10", &a);
	weir_ipaddr_parse("192.0.2.11", &b);
	weir_hosts_clear();
	ck_assert_int_eq(weir_hosts_add("db", a), 0);
	ck_assert_int_eq(weir_hosts_add("db", b), 0);
	/* Numeric names need no table; hosts-table names give every address, in order. */
	ck_assert_int_eq(weir_resolve(h.st, "192.0.2.77", got, 4, 0), 1);
	ck_assert_int_eq(weir_resolve(h.st, "db", got, 4, 0), 2);
	ck_assert_uint_eq(got[0].v4, a.v4);
	ck_assert_uint_eq(got[1].v4, b.v4);
	ck_assert_int_eq(weir_resolve(h.st, "db", got, 1, 0), 1);
	ck_assert_int_eq(weir_name_of(b, name, sizeof(name)), 0);
	ck_assert_str_eq(name, "db");
	ck_assert_int_eq(weir_name_of(h.our_ip, name, sizeof(name)), 0);
	ck_assert_str_eq(name, "192.0.2.2");
	ck_assert_int_eq(weir_name_of(h.our_ip, name, 4), WEIR_EINVAL);
	ck_assert_int_eq(weir_hosts_add("", a), WEIR_EINVAL);
	ck_assert_int_eq(weir_hosts_add("x", (struct weir_ipaddr){ 0 }), WEIR_EINVAL);
	ck_assert_int_eq(weir_resolve(h.st, "", got, 4, 0), WEIR_EINVAL);
	ck_assert_int_eq(weir_resolve(h.st, "db", got, 0, 0), WEIR_EINVAL);
	/* DNS is for fibers only. */
	ck_assert_int_eq(weir_resolve(h.st, "not-in-table", got, 4, 0), WEIR_EINVAL);
	weir_hosts_clear();
	ck_assert_int_eq(weir_name_of(b, name, sizeof(name)), 0);
	ck_assert_str_eq(name, "192.0.2.11");
}
END_TEST

/* --- DNS: a responder in the peer process answers the main side's resolver ------------------- */

#define S  WEIR_NS_PER_S
#define MS WEIR_NS_PER_MS

static struct {
	int stop;
	unsigned multi, moving; /* queries seen */
} dns_srv;

static size_t put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
	return 2;
}

/* An answer record: owner (a pointer to the question, or a full name), type, TTL, rdata. */
static size_t put_rr(uint8_t *p, const char *owner, uint16_t type, uint32_t ttl,
		     const uint8_t *rdata, size_t rdlen)
{
	size_t o = 0;

	if (owner == NULL) {
		o += put16(p, 0xc00c);
	} else {
		for (const char *l = owner; *l;) {
			const char *dot = strchr(l, '.');
			size_t n = dot ? (size_t)(dot - l) : strlen(l);

			p[o++] = (uint8_t)n;
			memcpy(p + o, l, n);
			o += n;
			l += n + (dot ? 1 : 0);
		}
		p[o++] = 0;
	}
	o += put16(p + o, type);
	o += put16(p + o, 1);
	o += put16(p + o, (uint16_t)(ttl >> 16));
	o += put16(p + o, (uint16_t)ttl);
	o += put16(p + o, (uint16_t)rdlen);
	memcpy(p + o, rdata, rdlen);
	return o + rdlen;
}

static size_t put_a(uint8_t *p, const char *owner, const char *ip, uint32_t ttl)
{
	struct weir_ipaddr a;

	weir_ipaddr_parse(ip, &a);
	return put_rr(p, owner, 1, ttl, (const uint8_t *)&a.v4, 4);
}

/* Answers one query in q (n bytes) into r; returns the answer's length, 0 to stay silent. */
static size_t dns_answer(const uint8_t *q, size_t n, uint8_t *r, int *decoy)
{
	char name[256];
	size_t o = 12, k = 0;
	uint16_t an = 0, rcode = 0;
	static const uint8_t cname[] = { 5,   'm', 'u', 'l', 't', 'i', 7, 'e',
					 'x', 'a', 'm', 'p', 'l', 'e', 0 };
	static const uint8_t ptr[] = { 4,   'p', 'e', 'e', 'r', 7,   'e',
				       'x', 'a', 'm', 'p', 'l', 'e', 0 };

	while (o < n && q[o] != 0 && k + q[o] + 1 < sizeof(name)) {
		if (k > 0)
			name[k++] = '.';
		memcpy(name + k, q + o + 1, q[o]);
		k += q[o];
		o += 1 + (size_t)q[o];
	}
	name[k] = '\0';
	o += 1 + 4; /* the root label, type, class */
	if (o > n)
		return 0;
	memcpy(r, q, o); /* header and question */
	k = o;
	*decoy = 0;
	if (strcmp(name, "multi.example") == 0) {
		dns_srv.multi++;
		k += put_a(r + k, NULL, "192.0.2.77", 60);
		k += put_a(r + k, NULL, "192.0.2.78", 60);
		k += put_a(r + k, NULL, "192.0.2.2", 60);
		an = 3;
	} else if (strcmp(name, "alias.example") == 0) {
		/* The addresses first, the CNAME after: order must not matter. */
		k += put_a(r + k, "multi.example", "192.0.2.77", 60);
		k += put_a(r + k, "other.example", "192.0.2.99", 60); /* not on the chain */
		k += put_rr(r + k, NULL, 5, 30, cname, sizeof(cname));
		k += put_a(r + k, "multi.example", "192.0.2.2", 60);
		an = 4;
	} else if (strcmp(name, "moving.example") == 0) {
		k += put_a(r + k, NULL, dns_srv.moving++ == 0 ? "192.0.2.77" : "192.0.2.2", 300);
		an = 1;
	} else if (strcmp(name, "noisy.example") == 0) {
		*decoy = 1;
		k += put_a(r + k, NULL, "192.0.2.2", 60);
		an = 1;
	} else if (strcmp(name, "2.2.0.192.in-addr.arpa") == 0) {
		k += put_rr(r + k, NULL, 12, 60, ptr, sizeof(ptr));
		an = 1;
	} else {
		rcode = 3; /* NXDOMAIN */
	}
	r[2] = 0x81; /* QR, RD */
	r[3] = (uint8_t)(0x80 | rcode);
	put16(r + 6, an);
	return k;
}

static void dns_responder(void *arg)
{
	struct side *s = arg;
	struct weir_udp_opts o = { .local_port = 53 };
	struct weir_udp *u;
	uint8_t q[512], r[1024];

	if (weir_udp_open(s->stack, &o, &u) < 0)
		return;
	while (!dns_srv.stop) {
		struct weir_ipaddr src;
		uint16_t sport;
		int decoy;
		ssize_t n = weir_udp_recv_from(u, q, sizeof(q), &src, &sport, 50 * MS);
		size_t k;

		if (n == WEIR_ETIMEDOUT)
			continue;
		if (n < 12)
			break;
		k = dns_answer(q, (size_t)n, r, &decoy);
		if (k == 0)
			continue;
		if (decoy) {
			/* First an answer with another id, then garbage, then the real one. */
			r[0] ^= 0x5a;
			weir_udp_send_to(u, src, sport, r, k);
			r[0] ^= 0x5a;
			weir_udp_send_to(u, src, sport, "\xff\xff\xff", 3);
		}
		weir_udp_send_to(u, src, sport, r, k);
	}
	weir_udp_close(u);
}

static void dns_hello(struct weir_flow *f, void *arg)
{
	(void)arg;
	weir_flow_write(f, "hi", 2);
}

static int peer_dns(struct side *s, void *arg)
{
	struct weir_tcp_listen_opts lo = { .port = 7000 };
	struct weir_listener *l;
	struct weir_fiber *fb;
	uint32_t msg;

	(void)arg;
	EXPECT_EQ(weir_tcp_listen(s->stack, &lo, dns_hello, NULL, &l), 0);
	EXPECT_EQ(weir_fiber_spawn(NULL, dns_responder, s, NULL, &fb), 0);
	EXPECT_EQ(side_send(s, 1), 0);
	EXPECT_EQ(side_recv(s, &msg, 60 * S), 0);
	dns_srv.stop = 1;
	weir_fiber_join(fb);
	EXPECT_EQ(weir_listener_close(l), 0);
	/* The second lookup of multi.example came from the cache. */
	EXPECT_EQ(dns_srv.multi, 1);
	EXPECT_EQ(dns_srv.moving, 2); /* asked again once its only address failed */
	return 0;
}

static int main_dns(struct side *s, void *arg)
{
	struct weir_connect_attempt att[8];
	struct weir_connect_host_opts co = { .tcp.timeout_ns = 300 * MS,
					     .attempts = att,
					     .max_attempts = 8 };
	struct weir_ipaddr got[8], nobody;
	struct weir_flow *f;
	uint32_t msg;
	char name[64];
	uint8_t b[4];

	(void)arg;
	EXPECT_EQ(side_recv(s, &msg, 10 * S), 0);
	weir_hosts_clear();
	weir_dns_cache_clear();
	EXPECT_EQ(weir_dns_set_server(0, s->peer), 0);
	/* Every A record, in the order given (lwIP's client kept the first only). */
	EXPECT_EQ(weir_resolve(s->stack, "multi.example", got, 8, 2 * S), 3);
	EXPECT_EQ(got[0].v4, htonl(0xc000024d));
	EXPECT_EQ(got[1].v4, htonl(0xc000024e));
	EXPECT_EQ(got[2].v4, s->peer.v4);
	EXPECT_EQ(weir_resolve(s->stack, "MULTI.example", got, 2, 2 * S), 2); /* cached */
	/* A CNAME after the addresses it leads to; a record off the chain is not taken. */
	EXPECT_EQ(weir_resolve(s->stack, "alias.example", got, 8, 2 * S), 2);
	EXPECT_EQ(got[0].v4, htonl(0xc000024d));
	EXPECT_EQ(got[1].v4, s->peer.v4);
	EXPECT_EQ(weir_resolve(s->stack, "nothing.example", got, 8, 2 * S), WEIR_ENOADDR);
	/* Answers with the wrong id and garbage are ignored; the real one counts. */
	EXPECT_EQ(weir_resolve(s->stack, "noisy.example", got, 8, 2 * S), 1);
	EXPECT_EQ(got[0].v4, s->peer.v4);
	/* Tezos's connect: each address in turn, each with its own timeout. */
	EXPECT_EQ(weir_tcp_connect_host(s->stack, "multi.example", "7000", &co, &f), 0);
	EXPECT_EQ(co.n_attempts, 3);
	EXPECT(att[0].rc < 0 && att[1].rc < 0 && att[2].rc == 0);
	EXPECT_EQ(att[2].addr.v4, s->peer.v4);
	EXPECT_EQ(weir_flow_read_into(f, b, sizeof(b)), 2);
	weir_flow_close(f);
	weir_flow_free(f);
	/* A cached answer whose only address fails is asked again, and the new one works. */
	EXPECT_EQ(weir_tcp_connect_host(s->stack, "moving.example", "7000", &co, &f), 0);
	EXPECT_EQ(co.n_attempts, 2);
	EXPECT_EQ(att[1].addr.v4, s->peer.v4);
	weir_flow_close(f);
	weir_flow_free(f);
	/* getnameinfo: PTR, else the numeric form. */
	EXPECT_EQ(weir_getnameinfo(s->stack, s->peer, name, sizeof(name), 2 * S), 0);
	EXPECT(strcmp(name, "peer.example") == 0);
	weir_ipaddr_parse("192.0.2.99", &nobody);
	EXPECT_EQ(weir_getnameinfo(s->stack, nobody, name, sizeof(name), 2 * S), 0);
	EXPECT(strcmp(name, "192.0.2.99") == 0);
	EXPECT_EQ(weir_getnameinfo(s->stack, s->peer, name, 5, 2 * S), WEIR_EINVAL);
	return side_send(s, 0xd0e);
}

START_TEST(test_dns_every_address_cname_ptr_cache)
{
	ck_assert_int_eq(pair_run(main_dns, peer_dns, NULL, NULL, 60 * S), 0);
}
END_TEST

START_TEST(test_dns_parse_rejects_malformed)
{
	/* A response to id 0x1234 for a.b (type A), then mutations: each must be refused or
	 * parsed without reading outside the message. */
	uint8_t m[64] = { 0x12, 0x34, 0x81, 0x80, 0,  1, 0, 1,	 0,    0,    0, 0, 1,
			  'a',	1,    'b',  0,	  0,  1, 0, 1,	 0xc0, 0x0c, 0, 1, 0,
			  1,	0,    0,    0,	  60, 0, 4, 192, 0,    2,    9 };
	size_t len = 37;
	struct weir__dns_result r;

	ck_assert_int_eq(weir__dns_parse(m, len, 0x1234, "a.b", 1, &r), 0);
	ck_assert_uint_eq(r.n, 1);
	ck_assert_uint_eq(r.ttl, 60);
	ck_assert_int_eq(weir__dns_parse(m, len, 0x1235, "a.b", 1, &r), -1);	 /* id */
	ck_assert_int_eq(weir__dns_parse(m, len, 0x1234, "a.c", 1, &r), -1);	 /* question */
	ck_assert_int_eq(weir__dns_parse(m, len - 1, 0x1234, "a.b", 1, &r), -1); /* short */
	m[21] = 0xc0;
	m[22] = 21; /* a pointer to itself */
	ck_assert_int_eq(weir__dns_parse(m, len, 0x1234, "a.b", 1, &r), -1);
	m[22] = 40; /* forwards, past the end */
	ck_assert_int_eq(weir__dns_parse(m, len, 0x1234, "a.b", 1, &r), -1);
	m[22] = 0x0c;
	m[32] = 200; /* rdlength past the end */
	ck_assert_int_eq(weir__dns_parse(m, len, 0x1234, "a.b", 1, &r), -1);
	for (size_t cut = 0; cut < len; cut++)
		weir__dns_parse(m, cut, 0x1234, "a.b", 1, &r); /* no crash, no overread (ASan) */
}
END_TEST

Suite *weir_test_resolve_suite(void)
{
	Suite *s = suite_create("resolve");
	TCase *tc = tcase_create("names");

	tcase_add_test(tc, test_service_table);
	suite_add_tcase(s, tc);

	TCase *th = tcase_create("hosts");
	tcase_add_checked_fixture(th, setup, teardown);
	tcase_add_test(th, test_hosts_table_and_reverse_lookup);
	suite_add_tcase(s, th);

	TCase *td = tcase_create("dns");
	tcase_set_timeout(td, 90);
	tcase_add_test(td, test_dns_every_address_cname_ptr_cache);
	tcase_add_test(td, test_dns_parse_rejects_malformed);
	suite_add_tcase(s, td);
	return s;
}
