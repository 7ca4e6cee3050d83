/*
** rewrite.h: what the load-time rewrites share (rewrite.c and
** rewrite_attention.c). uses[v] counts the nodes reading value v; dead[n]
** marks nodes a rewrite removed (rewrite.c drops them at the end, and until
** then a value's producer may be stale: a rewritten node can take over the
** output of a node it absorbed).
*/
#ifndef DI_NN_REWRITE_H
#define DI_NN_REWRITE_H

#include "graph.h"

/* The one node reading value v, or -1 (none, several, or a graph output). */
int di_nn_rw_only_consumer(const di_nn_graph *g, const int *uses, int v);
/* n is op with nin inputs and one output */
bool di_nn_rw_is_op(const di_nn_node *n, const char *op, int nin);
/* frees what node n owns but its name and output array: a rewrite turning
** n into another op fills op_type, in and attrs again */
void di_nn_rw_reuse_node(di_nn_node *n);

/* The attention rewrite from Softmax node si: 1 when done, 0 when the node
** is not such a Softmax, -1 out of memory. */
int di_nn_rewrite_attention(di_nn_graph *g, int *uses, bool *dead, int si);

/* The quantized MatMul's float tail from Cast node ci into a
** _MatMulIntegerToFloat node (rewrite_quant.c): 1 when done, 0 when not
** such a Cast, -1 out of memory. */
int di_nn_rewrite_quant(di_nn_graph *g, int *uses, bool *dead, int ci);

/* Conv 1x1 (C -> C) after Resize node ri run before it (rewrite_resize.c):
** 1 when done, 0 when not such a pair. */
int di_nn_rewrite_resize_conv(di_nn_graph *g, int *uses, bool *dead, int ri);

#endif
