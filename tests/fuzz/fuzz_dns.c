/* fuzz_dns.c - libFuzzer harness for the DNS stub resolver's answer parser (flow/dns.c): any
 * datagram a server, or anyone who can reach our port, sends back. The input is the datagram;
 * its first two bytes are taken as the id we asked with (else nothing gets past the header), and
 * it is parsed as the answer to an A question and to a PTR question. */
#include <stddef.h>
#include <stdint.h>

#include "dns_priv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct weir__dns_result r;
	uint16_t id = size >= 2 ? (uint16_t)((data[0] << 8) | data[1]) : 0;

	if (weir__dns_parse(data, size, id, "a.example", 1, &r) == 0 && r.n > WEIR__DNS_ADDRS_MAX)
		__builtin_trap();
	if (weir__dns_parse(data, size, id, "9.2.0.192.in-addr.arpa", 12, &r) == 0 && r.n > 1)
		__builtin_trap();
	return 0;
}
