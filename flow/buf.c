/* buf.c - received buffers (struct weir_buf): one lwIP pbuf each, zero-copy, for TCP and UDP. */
#include "lwip/pbuf.h"

#include "buf_priv.h"

WEIR_PER_SHARD uint32_t weir__bufs_out;

void weir__buf_hand_out(struct weir_buf *buf, struct pbuf *p)
{
	buf->data = p->payload;
	buf->len = p->len;
	buf->priv = p;
	weir__bufs_out++;
}

void weir_buf_release(struct weir_buf *buf)
{
	if (buf == NULL || buf->priv == NULL)
		return;
	pbuf_free(buf->priv);
	weir__bufs_out--;
	buf->priv = NULL;
	buf->data = NULL;
	buf->len = 0;
}
