/* probe.c - a source that includes one header (PROBE_HEADER), compiled with the include path of
 * one layer's library, as if it were one of that layer's sources (tests/layering). */
#define PROBE_STR2(x) #x
#define PROBE_STR(x)  PROBE_STR2(x)
#include PROBE_STR(PROBE_HEADER)

int weir_layering_probe(void);

int weir_layering_probe(void)
{
	return 0;
}
