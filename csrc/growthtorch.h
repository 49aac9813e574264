/*
 * growthtorch.h - the C interface of growthtrain's library over libtorch.
 *
 * This header is pure C: it is the only thing a Go (or any other) program sees of libtorch, so a
 * binary built against it runs with any build of libgrowthtorch (CPU or CUDA libtorch) that
 * carries the same GT_ABI_VERSION.
 *
 * Conventions
 *  - Every entry point that can fail returns a gt_error: NULL on success, otherwise an error
 *    object the caller owns (read it with gt_error_code/gt_error_message, then gt_error_free).
 *    No C++ exception ever crosses this boundary and there is no thread-local "last error".
 *  - Results come back through out-parameters, which are written only on success.
 *  - gt_tensor is an opaque handle. It is released by gt_tensor_free or, when it was created
 *    while a scope was open on the calling thread, by closing that scope (unless it was kept),
 *    whichever comes first. Using a released handle is an error (GT_ERR_FREED), never a crash.
 *  - Grad mode and scopes are per OS thread, as in libtorch itself.
 *  - Loading the library changes nothing in the process: until gt_runtime_init, libtorch's
 *    defaults hold (its own CPU allocator, the composite ATen formulas, no pacing hints). No
 *    entry point reads the environment.
 */
#ifndef GROWTHTORCH_H
#define GROWTHTORCH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif
/* The library is built with hidden visibility: only these C entry points are exported. */
#if defined(GT_BUILDING) && defined(__GNUC__)
#pragma GCC visibility push(default)
#endif

/* Bumped whenever anything in this header changes for a caller: a signature, an enum value, a
   struct layout, the meaning or default of an entry point, and also an entry point added or
   removed (docs/bindings.md, "ABI rule"). */
#define GT_ABI_VERSION 8

/* A tensor handle: a slot number (bits 0-31) and a generation (bits 32-61); 0 is "no tensor".
   A released handle's generation no longer matches its slot, so using it is a clean
   GT_ERR_FREED, never a crash. Two flag bits may be set on a returned handle; callers may pass
   handles back with or without them:
   GT_HANDLE_SCOPED  it was made while a scope was open on the calling thread, and that scope
                     will release it, so the caller needs no finaliser of its own;
   GT_HANDLE_YIELD   a pacing hint (see gt_set_pace): this thread has gone a pacing interval
                     without one, so a caller with a cooperative scheduler should let it run. */
typedef uint64_t gt_tensor;
#define GT_HANDLE_SCOPED ((uint64_t)1 << 63)
#define GT_HANDLE_YIELD ((uint64_t)1 << 62)
typedef struct gt_error_s *gt_error;
typedef struct gt_generator_s *gt_generator;

/* ---- errors ---- */
enum {
  GT_ERR_TORCH = 1,    /* libtorch rejected the call (shape, dtype, index, device ...) */
  GT_ERR_OOM = 2,      /* an allocation failed on the CPU or an accelerator */
  GT_ERR_ARGUMENT = 3, /* this library rejected an argument before calling libtorch */
  GT_ERR_FREED = 4,    /* a handle whose tensor was already released */
  GT_ERR_INTERNAL = 5, /* anything else thrown (std::exception or unknown) */
  GT_ERR_DIST = 6      /* a process group's communication failed or timed out (a peer died,
                          hung, or never joined; the network refused) */
};
int gt_error_code(gt_error e);
const char *gt_error_message(gt_error e);
void gt_error_free(gt_error e);

/* ---- library ---- */
int gt_abi_version(void);
const char *gt_torch_version(void); /* e.g. "2.11.0" (static storage) */
int gt_cuda_compiled(void);         /* 1 when linked with libtorch_cuda */
int64_t gt_live_tensors(void);      /* tensors whose storage is still held through a handle */
void gt_set_num_threads(int n);
int gt_get_num_threads(void);
void gt_manual_seed(uint64_t seed);

/* ---- runtime ----
   What the library may change in the process beyond tensors, chosen by one call. The options
   begin with their own size, so the library knows which fields the caller was compiled with:
   fields past a smaller size are taken as 0 (off), a larger size than this header's is refused.
   Adding a field is still an ABI version bump (docs/bindings.md). */
typedef struct gt_runtime_options {
  int64_t size;             /* sizeof(gt_runtime_options) as the caller knows it */
  int32_t fused_kernels;    /* nonzero: the fused CPU kernels run where they apply */
  int32_t cpu_cache;        /* nonzero: install the caching CPU allocator */
  int64_t cpu_cache_limit;  /* its most idle bytes; 0: gt_cpu_cache_default_limit() */
  int64_t pace_interval_ns; /* > 0: pacing hints, at most one per thread per interval */
} gt_runtime_options;
/* Applies opts. It may succeed once per process, before or after tensors exist (tensors made
   before keep the allocator that made them, whose deleter each of them carries). A second call,
   a bad size, a negative value or a cpu_cache_limit without cpu_cache is GT_ERR_ARGUMENT and
   changes nothing; gt_set_fused, gt_set_pace and gt_cpu_cache_set_limit adjust the settings
   afterwards. */
gt_error gt_runtime_init(const gt_runtime_options *opts);
/* Writes the settings in force into *out (out->size must be set; cpu_cache is 1 while the
   caching allocator serves CPU tensors, cpu_cache_limit its current limit) and whether
   gt_runtime_init has succeeded into *initialized. */
gt_error gt_runtime_current(gt_runtime_options *out, int *initialized);

/* Pacing: with an interval set, every 4th tensor handle returned to a thread checks a monotonic
   clock, and carries GT_HANDLE_YIELD when the thread's last hint is at least the interval old
   (or it never had one). The state is per OS thread, so threads driving tensor work
   concurrently each get their own interval. 0 (the default) turns the hints off; every call
   starts each thread's interval afresh. */
void gt_set_pace(int64_t interval_ns);
int64_t gt_pace(void);

/* ---- dtypes and devices (our own stable numbering) ---- */
enum {
  GT_FLOAT32 = 0,
  GT_FLOAT64 = 1,
  GT_FLOAT16 = 2,
  GT_BFLOAT16 = 3,
  GT_INT64 = 4,
  GT_INT32 = 5,
  GT_BOOL = 6,
  GT_UINT8 = 7,
  GT_INT8 = 8
};
enum { GT_CPU = 0, GT_CUDA = 1 };

/* ---- lifetime and scopes ---- */
void gt_tensor_free(gt_tensor t); /* releases t; a no-op for 0 or an already released t */
void gt_tensor_free_n(const gt_tensor *ts, int64_t n); /* gt_tensor_free on each, one call */
uint64_t gt_scope_push(void);     /* opens a scope on this thread; returns its id */
gt_error gt_scope_pop(uint64_t id); /* closes the innermost scope; id must match */
/* t leaves whatever scope owns it: it lives until gt_tensor_free (for model parameters, caches
   and optimizer state made while a scope happens to be open). */
gt_error gt_tensor_persist(gt_tensor t);
/* t survives scope id, which must be the innermost: it moves to the parent scope, if any.
   *unscoped is set to 1 when t now belongs to no scope (the caller owns its release). */
gt_error gt_scope_keep(uint64_t id, gt_tensor t, int *unscoped);

/* ---- metadata ---- */
gt_error gt_tensor_ndim(gt_tensor t, int64_t *out);
gt_error gt_tensor_shape(gt_tensor t, int64_t *out, int64_t cap); /* cap >= ndim */
gt_error gt_tensor_dtype(gt_tensor t, int *out);
gt_error gt_tensor_device(gt_tensor t, int *type, int *index);
gt_error gt_tensor_numel(gt_tensor t, int64_t *out);
gt_error gt_tensor_is_contiguous(gt_tensor t, int *out);
gt_error gt_tensor_defined(gt_tensor t, int *out);
/* Writes a printable summary of at most cap-1 bytes plus NUL. */
gt_error gt_tensor_format(gt_tensor t, char *buf, int64_t cap);

/* ---- factories ---- */
enum { GT_FILL_EMPTY = 0, GT_FILL_ZEROS = 1, GT_FILL_ONES = 2, GT_FILL_VALUE = 3 };
gt_error gt_full(const int64_t *shape, int64_t ndim, int fill, double value, int dtype,
                 int dev_type, int dev_index, gt_tensor *out);
gt_error gt_arange(double start, double end, double step, int dtype, int dev_type, int dev_index,
                   gt_tensor *out);
enum { GT_RAND_NORMAL = 0, GT_RAND_UNIFORM = 1 };
/* gen may be NULL (the default generator of the device). */
gt_error gt_rand(int kind, const int64_t *shape, int64_t ndim, gt_generator gen, int dtype,
                 int dev_type, int dev_index, gt_tensor *out);
gt_error gt_randint(int64_t low, int64_t high, const int64_t *shape, int64_t ndim,
                    gt_generator gen, int dtype, int dev_type, int dev_index, gt_tensor *out);
/* A CPU tensor holding a copy of nbytes of data (little-endian, row-major). */
gt_error gt_from_data(const void *data, int64_t nbytes, const int64_t *shape, int64_t ndim,
                      int dtype, gt_tensor *out);
/* Copies t, converted to dtype on the CPU and made contiguous, into dst (exactly nbytes). */
gt_error gt_to_data(gt_tensor t, int dtype, void *dst, int64_t nbytes);
gt_error gt_item(gt_tensor t, double *out);

/* ---- generators ---- */
gt_error gt_generator_new(uint64_t seed, int dev_type, int dev_index, gt_generator *out);
void gt_generator_free(gt_generator g);
gt_error gt_generator_get_state(gt_generator g, gt_tensor *out); /* a uint8 CPU tensor */
gt_error gt_generator_set_state(gt_generator g, gt_tensor state);

/* ---- elementwise and linear algebra ---- */
enum {
  GT_U_NEG = 0, GT_U_EXP, GT_U_LOG, GT_U_SQRT, GT_U_RSQRT, GT_U_ABS, GT_U_SIGMOID, GT_U_TANH,
  GT_U_SILU, GT_U_RELU, GT_U_GELU, GT_U_SQUARE, GT_U_RECIPROCAL, GT_U_SIN, GT_U_COS,
  GT_U_CONTIGUOUS, GT_U_CLONE, GT_U_DETACH, GT_U_LOGICAL_NOT, GT_U_ZEROS_LIKE, GT_U_ONES_LIKE,
  GT_U_ISFINITE, GT_U_SIGN, GT_U_FLOOR,
  GT_U_COUNT
};
gt_error gt_unary(int op, gt_tensor a, gt_tensor *out);

enum {
  GT_B_ADD = 0, GT_B_SUB, GT_B_MUL, GT_B_DIV, GT_B_MATMUL, GT_B_POW, GT_B_MAXIMUM, GT_B_MINIMUM,
  GT_B_EQ, GT_B_NE, GT_B_LT, GT_B_LE, GT_B_GT, GT_B_GE, GT_B_LOGICAL_AND, GT_B_LOGICAL_OR,
  GT_B_RPOW, /* scalar form only: b ** a (scalar base, tensor exponent) */
  GT_B_COUNT
};
gt_error gt_binary(int op, gt_tensor a, gt_tensor b, gt_tensor *out);
/* The same operations with a scalar right operand (GT_B_MATMUL excluded). */
gt_error gt_binary_scalar(int op, gt_tensor a, double b, gt_tensor *out);

/* In-place updates, used for parameter updates and buffers. Autograd forbids them on leaves that
   require grad unless grad mode is off. */
enum { GT_I_ADD = 0, GT_I_SUB, GT_I_MUL, GT_I_DIV, GT_I_COPY, GT_I_COUNT };
gt_error gt_inplace(int op, gt_tensor self, gt_tensor other, double alpha);
gt_error gt_inplace_scalar(int op, gt_tensor self, double value); /* ADD, SUB, MUL, DIV, COPY=fill */
gt_error gt_zero_(gt_tensor self);

gt_error gt_linear(gt_tensor x, gt_tensor w, gt_tensor b /* nullable */, gt_tensor *out);
gt_error gt_clamp(gt_tensor a, int has_min, double min, int has_max, double max, gt_tensor *out);
gt_error gt_where(gt_tensor cond, gt_tensor a, gt_tensor b, gt_tensor *out);
gt_error gt_masked_fill(gt_tensor a, gt_tensor mask, double value, gt_tensor *out);
gt_error gt_triangle(gt_tensor a, int upper, int64_t diagonal, gt_tensor *out);

/* ---- reductions ---- */
enum { GT_R_SUM = 0, GT_R_MEAN, GT_R_AMAX, GT_R_AMIN, GT_R_LOGSUMEXP, GT_R_VAR, GT_R_STD,
       GT_R_COUNT };
/* ndims == 0 reduces over every dimension (LOGSUMEXP needs dims). VAR/STD are unbiased. */
gt_error gt_reduce(int op, gt_tensor a, const int64_t *dims, int64_t ndims, int keepdim,
                   gt_tensor *out);
gt_error gt_argmax(gt_tensor a, int64_t dim, int keepdim, gt_tensor *out);
/* Vector p-norm over dims (all when ndims == 0). */
gt_error gt_norm(gt_tensor a, double p, const int64_t *dims, int64_t ndims, int keepdim,
                 gt_tensor *out);
gt_error gt_cumsum(gt_tensor a, int64_t dim, gt_tensor *out);
gt_error gt_topk(gt_tensor a, int64_t k, int64_t dim, int largest, gt_tensor *values,
                 gt_tensor *indices);
gt_error gt_sort(gt_tensor a, int64_t dim, int descending, gt_tensor *values, gt_tensor *indices);
gt_error gt_multinomial(gt_tensor probs, int64_t n, int replacement, gt_generator gen,
                        gt_tensor *out);

/* ---- neural-network functions ---- */
gt_error gt_softmax(gt_tensor a, int64_t dim, int log, gt_tensor *out);
gt_error gt_embedding(gt_tensor weight, gt_tensor ids, gt_tensor *out);
enum { GT_REDUCTION_NONE = 0, GT_REDUCTION_MEAN = 1, GT_REDUCTION_SUM = 2 };
gt_error gt_cross_entropy(gt_tensor logits, gt_tensor target, int64_t ignore_index,
                          int reduction, double label_smoothing, gt_tensor *out);
/* scale < 0 means the default 1/sqrt(head_dim). mask is nullable. */
gt_error gt_sdpa(gt_tensor q, gt_tensor k, gt_tensor v, gt_tensor mask, double dropout,
                 int causal, double scale, int enable_gqa, gt_tensor *out);
gt_error gt_rms_norm(gt_tensor x, gt_tensor weight /* nullable */, double eps, gt_tensor *out);
/* gt_rms_norm through libtorch's at::rms_norm on every device (what gt_rms_norm uses on CUDA,
   where it is a fused kernel; on the CPU the composite formula is faster). */
gt_error gt_rms_norm_native(gt_tensor x, gt_tensor weight /* nullable */, double eps,
                            gt_tensor *out);

/* ---- views and indexing ---- */
enum { GT_SHAPE_VIEW = 0, GT_SHAPE_RESHAPE, GT_SHAPE_PERMUTE, GT_SHAPE_EXPAND };
gt_error gt_shape_op(int op, gt_tensor a, const int64_t *dims, int64_t ndims, gt_tensor *out);
gt_error gt_transpose(gt_tensor a, int64_t d0, int64_t d1, gt_tensor *out);
gt_error gt_unsqueeze(gt_tensor a, int64_t dim, gt_tensor *out);
gt_error gt_squeeze(gt_tensor a, int64_t dim, gt_tensor *out);
gt_error gt_flatten(gt_tensor a, int64_t start, int64_t end, gt_tensor *out);
gt_error gt_slice(gt_tensor a, int64_t dim, int64_t start, int64_t end, int64_t step,
                  gt_tensor *out);
gt_error gt_index_select(gt_tensor a, int64_t dim, gt_tensor index, gt_tensor *out);
gt_error gt_gather(gt_tensor a, int64_t dim, gt_tensor index, gt_tensor *out);
gt_error gt_cat(const gt_tensor *ts, int64_t n, int64_t dim, int stack, gt_tensor *out);
/* Splits a into n chunks along dim; outs must hold n handles. */
gt_error gt_chunk(gt_tensor a, int64_t n, int64_t dim, gt_tensor *outs);

/* ---- conversion ---- */
/* dtype < 0 keeps the dtype; dev_type < 0 keeps the device. copy forces a new tensor. */
gt_error gt_to(gt_tensor a, int dtype, int dev_type, int dev_index, int copy, gt_tensor *out);

/* ---- autograd ---- */
gt_error gt_set_requires_grad(gt_tensor t, int on);
gt_error gt_requires_grad(gt_tensor t, int *out);
gt_error gt_is_leaf(gt_tensor t, int *out);
/* grad is nullable (then t must be a scalar). */
gt_error gt_backward(gt_tensor t, gt_tensor grad, int retain_graph);
/* *out is NULL when t has no gradient. */
gt_error gt_grad(gt_tensor t, gt_tensor *out);
gt_error gt_grad_set_none(gt_tensor t);
gt_error gt_grad_zero(gt_tensor t);
int gt_set_grad_enabled(int on); /* for this thread; returns the previous setting */
int gt_is_grad_enabled(void);

/* ---- autocast (mixed precision), per thread like grad mode ---- */
/* Enters an autocast region for dev_type (GT_CPU or GT_CUDA) on this thread: libtorch's
   lower-precision operations (matrix products, attention) compute in dtype (GT_BFLOAT16 or
   GT_FLOAT16) while float32 parameters, and the gradients they receive, stay float32. Regions
   nest; each enter must be matched by gt_autocast_exit on the same thread, which restores the
   previous setting and, when the outermost region ends, drops the cached casts of the weights. */
gt_error gt_autocast_enter(int dev_type, int dtype);
gt_error gt_autocast_exit(int dev_type);
/* Writes whether autocast is on for dev_type on this thread, and its dtype (our code). */
gt_error gt_autocast_state(int dev_type, int *enabled, int *dtype);

/* ---- fused training helpers (one call for a whole parameter list) ---- */
/* AdamW over params[i] using params[i].grad; params without a gradient are skipped. step is the
   1-based step count shared by all (kept per parameter by the caller via `steps`, float32 CPU
   scalars as libtorch's fused kernels want them on the parameters' device). */
gt_error gt_adamw(const gt_tensor *params, const gt_tensor *exp_avg, const gt_tensor *exp_avg_sq,
                  const gt_tensor *steps, int64_t n, double lr, double beta1, double beta2,
                  double eps, double weight_decay);
/* The LM head and the next-token cross-entropy in one differentiable call: for x [N, H] (the
   final norm's outputs), weight [V, H] and int64 targets [N] (ignore_index left out), the mean
   (GT_REDUCTION_MEAN, over the counted targets) or sum (GT_REDUCTION_SUM) of
   -log softmax(x weight^T)[target], a float32 scalar. Rows go through in chunks of `chunk`; with
   gradients recorded, each chunk's logit gradient is computed in the forward pass and folded into
   the gradients of x and weight at once, so the [N, V] logits never exist whole. The products run
   in compute_dtype (< 0: x's dtype; e.g. GT_BFLOAT16 for mixed precision), the loss in float32. */
gt_error gt_head_cross_entropy(gt_tensor x, gt_tensor weight, gt_tensor targets,
                               int64_t ignore_index, int reduction, int64_t chunk,
                               int compute_dtype, gt_tensor *out);
/* Clips the gradients of params to a total 2-norm of max_norm (if max_norm > 0) and returns the
   total norm before clipping (0 when no parameter has a gradient). Reading the norm waits for
   the device. */
gt_error gt_clip_grad_norm(const gt_tensor *params, int64_t n, double max_norm, double *norm);
/* The same computation, bit for bit, but the norm stays on the device: a 0-d tensor on the
   gradients' device (float32, or float64 when any gradient is float64), so the call queues its
   work without waiting for the device. With no gradient at all it is a float32 CPU zero. */
gt_error gt_clip_grad_norm_tensor(const gt_tensor *params, int64_t n, double max_norm,
                                  gt_tensor *norm);
/* Multiplies the gradients of params (those that have one) by factor in place, with one
   foreach kernel per device and dtype: loss scaling's unscale. */
gt_error gt_grads_mul(const gt_tensor *params, int64_t n, double factor);

/* ---- fused CPU kernels ----
   When enabled (gt_runtime_init's fused_kernels, or gt_set_fused(1); off by default), for float32
   CPU tensors that need no gradient, gt_rms_norm, gt_rope and gt_cross_entropy (sum or mean, no
   label smoothing) run fused one-pass kernels; otherwise, and whenever gradients are recorded,
   the composite ATen formulas, which are also the reference for tests and benchmarks. */
void gt_set_fused(int on);
int gt_fused(void);
/* The instruction set the fused CPU kernels use: 2 AVX-512, 1 AVX2 + FMA, 0 none (the composite
   formulas run). cap >= 0 first limits it to at most cap (tests run every path this way); cap < 0
   reads. */
int gt_fused_level(int cap);
/* silu(gate) * up, elementwise (the SwiGLU MLP's inner product). */
gt_error gt_swiglu(gt_tensor gate, gt_tensor up, gt_tensor *out);
/* Rotary position embedding in HF's rotate-half layout: x*cos + rotate_half(x)*sin, where x is
   [..., T, D] (D even, any strides) and cos, sin hold T*D values ([T, D] or broadcast-shaped
   like [1, 1, T, D]). */
gt_error gt_rope(gt_tensor x, gt_tensor cos, gt_tensor sin, gt_tensor *out);

/* ---- devices ---- */
int gt_cuda_is_available(void);
int gt_cuda_device_count(void);
gt_error gt_cuda_synchronize(int index);
gt_error gt_cuda_memory(int index, int64_t *allocated, int64_t *peak_allocated,
                        int64_t *reserved);
gt_error gt_cuda_reset_peak(int index);
/* The device's free and total memory in bytes, as the driver reports them (cudaMemGetInfo:
   memory the caching allocator holds but does not use counts as taken). */
gt_error gt_cuda_mem_info(int index, int64_t *free_bytes, int64_t *total_bytes);
gt_error gt_cuda_empty_cache(void);

/* ---- CPU memory ----
   Once gt_runtime_init installed it (cpu_cache), CPU tensors of 64 KiB and more come from a
   caching allocator (csrc/kernels/cpu/caching_allocator.cpp): freed blocks are kept in per-size
   bins, up to a limit of idle bytes, instead of going back to the kernel. Without it libtorch's
   own allocator serves them and the calls below report zeros and change nothing. */
/* The limit gt_runtime_init uses for cpu_cache_limit 0: an eighth of physical memory, at most
   2 GiB. */
int64_t gt_cpu_cache_default_limit(void);
/* Writes limit, idle, live, hits, misses (bytes, bytes, bytes, count, count) to out5 and returns
   1, or writes zeros and returns 0 when the cache is not installed. */
int gt_cpu_cache_stats(int64_t *out5);
/* Returns the most live bytes (cached-size blocks held by tensors) since the cache was
   installed or last reset, and with reset nonzero starts over from the live bytes now; 0 when
   the cache is not installed. */
int64_t gt_cpu_cache_peak_live(int reset);
/* Returns every idle block to the system; returns the bytes released. */
int64_t gt_cpu_cache_empty(void);
/* Sets the limit of idle bytes (0: cache nothing from now on), releasing what is over it. */
void gt_cpu_cache_set_limit(int64_t bytes);

/* ---- distributed: c10d process groups ----
   A process group is libtorch's c10d machinery, the one torch.distributed uses: a TCPStore for
   the rendezvous (rank 0 serves it at master_addr:master_port, every rank connects) and a
   backend for the collectives: Gloo (CPU tensors; compiled when gloo's headers were found,
   USE_C10D_GLOO) or NCCL (CUDA tensors; compiled only with USE_C10D_NCCL, on GPU hosts). Every
   entry point exists in every build; a backend that was not compiled in is GT_ERR_ARGUMENT
   ("built without c10d Gloo support"). Every collective waits for its completion and returns;
   a timeout, a peer that died or never joined, or a network error is GT_ERR_DIST, never an
   abort. After a GT_ERR_DIST the group is unusable (later calls fail at once with the first
   error) and gt_pg_free does not tear it down: its threads may still be blocked on a dead peer,
   so it is left to the process's exit. Collectives must be called in the same order, with the
   same shapes, dtypes and bucket sizes, on every rank. */
typedef struct gt_pg_s *gt_pg;
enum { GT_DIST_GLOO = 0, GT_DIST_NCCL = 1 };
/* 1 when the backend was compiled into this build of the library (a GPU is not checked). */
int gt_dist_available(int backend);
/* Options begin with their own size (as gt_runtime_options do): fields past a smaller size are
   taken as 0, a larger size than this header's is refused. */
typedef struct gt_pg_options {
  int64_t size;            /* sizeof(gt_pg_options) as the caller knows it */
  int32_t backend;         /* GT_DIST_GLOO or GT_DIST_NCCL */
  int32_t rank;            /* 0 <= rank < world_size */
  int32_t world_size;      /* >= 1 */
  int32_t master_port;     /* the TCPStore's port, 1-65535 */
  const char *master_addr; /* the TCPStore's host (rank 0 listens there) */
  /* Gloo: the network interface (e.g. "eth0") or the local address to communicate through;
     both NULL or "": 127.0.0.1 when master_addr is a loopback address, otherwise the address
     this host's name resolves to. */
  const char *gloo_iface;
  const char *gloo_host;
  int64_t timeout_ms;      /* rendezvous, store operations and every collective; > 0 */
  int32_t device_index;    /* NCCL: this rank's CUDA device */
  int32_t threads;         /* Gloo: worker threads of the backend (0: 2) */
  /* Nonzero: the TCPStore at master_addr:master_port already exists (a launcher's agent serves
     it, as torchrun's does: TORCHELASTIC_USE_AGENT_STORE=True) and every rank is a client.
     0: rank 0 serves it and waits until every rank has connected. */
  int32_t agent_store;
} gt_pg_options;
/* Joins the group: returns when all world_size ranks have joined, or GT_ERR_DIST after
   timeout_ms (naming what was missing). */
gt_error gt_pg_new(const gt_pg_options *opts, gt_pg *out);
/* Leaves and releases the group (see above for a group that failed). NULL is a no-op. */
void gt_pg_free(gt_pg pg);
/* Sums ts[0..n) in place over the ranks (average: then divides by world_size). Tensors are
   coalesced into buckets: consecutive tensors of one dtype and device are flattened into one
   buffer of at most bucket_bytes (<= 0: 25 MiB; a larger tensor is a bucket of its own), each
   buffer is all-reduced, and the results are copied back. *bytes (nullable) receives the
   payload: the bytes of the reduced tensors (each rank's share of the wire traffic is about
   2 (world_size - 1) / world_size of it for a ring). */
gt_error gt_pg_allreduce(gt_pg pg, const gt_tensor *ts, int64_t n, int average,
                         int64_t bucket_bytes, int64_t *bytes);
/* gt_pg_allreduce on the gradients of params (data-parallel training). A parameter without a
   gradient gets a zero one first, so that every rank's buckets agree. */
gt_error gt_pg_allreduce_grads(gt_pg pg, const gt_tensor *params, int64_t n, int average,
                               int64_t bucket_bytes, int64_t *bytes);
/* Replaces ts[0..n) on every rank by rank root's values (in place, bucketed as above, with
   autograd off so parameters can be written). *bytes (nullable) receives the payload. */
gt_error gt_pg_broadcast(gt_pg pg, const gt_tensor *ts, int64_t n, int root,
                         int64_t bucket_bytes, int64_t *bytes);
/* *out = every rank's t, stacked in rank order: [world_size, t's shape...], on t's device.
   t must have the same shape and dtype on every rank. */
gt_error gt_pg_allgather(gt_pg pg, gt_tensor t, gt_tensor *out);
/* Returns once every rank has entered the barrier. */
gt_error gt_pg_barrier(gt_pg pg);

#if defined(GT_BUILDING) && defined(__GNUC__)
#pragma GCC visibility pop
#endif
#ifdef __cplusplus
}
#endif
#endif /* GROWTHTORCH_H */
