package torch

/*
#include <stdlib.h>
#include "growthtorch.h"
*/
import "C"

import (
	"fmt"
	"runtime"
	"time"
	"unsafe"
)

// Backend is the communication library of a process group.
type Backend int

// The backends of libtorch's c10d that the library can be built with.
const (
	Gloo Backend = C.GT_DIST_GLOO // CPU tensors, TCP; compiled when gloo's headers were found
	NCCL Backend = C.GT_DIST_NCCL // CUDA tensors; compiled only on GPU hosts (USE_C10D_NCCL)
)

// String is the backend's name as torchrun and PyTorch spell it: "gloo" or "nccl".
func (b Backend) String() string {
	switch b {
	case Gloo:
		return "gloo"
	case NCCL:
		return "nccl"
	}
	return fmt.Sprintf("Backend(%d)", int(b))
}

// DistAvailable reports whether the library was built with backend b (it does not check for
// a GPU).
func DistAvailable(b Backend) bool { return C.gt_dist_available(C.int(b)) != 0 }

// DefaultBucketBytes is the bucket size of GroupOptions.BucketBytes 0, as DDP's 25 MiB.
const DefaultBucketBytes = 25 << 20

// GroupOptions describe a process group: which rank this process is, how the ranks meet (rank
// 0 serves a c10d TCPStore at MasterAddr:MasterPort) and how they communicate.
type GroupOptions struct {
	Backend    Backend
	Rank       int
	WorldSize  int
	MasterAddr string
	MasterPort int
	// Timeout bounds the rendezvous and every collective; a rank that died, hangs or never
	// joined makes the others fail with ErrDistributed within it. 0 means 10 minutes.
	Timeout time.Duration
	// GlooIface or GlooHost choose the network interface (e.g. "eth0") or the local address
	// Gloo communicates through; both empty: 127.0.0.1 when MasterAddr is a loopback address,
	// otherwise the address this host's name resolves to.
	GlooIface, GlooHost string
	// Device is this rank's CUDA device (NCCL).
	Device Device
	// Threads is the number of Gloo worker threads (0: 2).
	Threads int
	// BucketBytes is the largest buffer the collectives flatten tensors into (0:
	// DefaultBucketBytes).
	BucketBytes int64
	// AgentStore: the TCPStore at MasterAddr:MasterPort already exists, served by the
	// launcher's agent (torchrun sets TORCHELASTIC_USE_AGENT_STORE=True), and every rank is a
	// client; otherwise rank 0 serves it.
	AgentStore bool
}

// ProcessGroup is a c10d process group: the same rendezvous and backends torch.distributed
// uses. Collectives must be called in the same order, with the same shapes and dtypes, on every
// rank, and from one goroutine at a time. They return their error instead of panicking: a
// failure of the network or of a peer is an expected condition of a distributed run.
// errors.Is(err, ErrDistributed) tells a communication failure (after which the group is
// unusable) from a rejected argument. A ProcessGroup must be closed.
type ProcessGroup struct {
	c       C.gt_pg
	rank    int
	size    int
	backend Backend
	device  Device // where AllGatherFloat64s puts its values: the CPU, or the NCCL device
	bucket  int64
}

// NewProcessGroup joins a process group. It returns once all WorldSize ranks have joined, or an
// ErrDistributed error after the timeout.
func NewProcessGroup(o GroupOptions) (*ProcessGroup, error) {
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Minute
	}
	if o.Timeout < time.Millisecond {
		return nil, &Error{Code: CodeArgument, Op: "NewProcessGroup", Message: fmt.Sprintf("timeout %v", o.Timeout)}
	}
	if o.BucketBytes < 0 {
		return nil, &Error{Code: CodeArgument, Op: "NewProcessGroup", Message: fmt.Sprintf("bucket size %d", o.BucketBytes)}
	}
	addr := C.CString(o.MasterAddr)
	defer C.free(unsafe.Pointer(addr))
	iface, host := C.CString(o.GlooIface), C.CString(o.GlooHost)
	defer C.free(unsafe.Pointer(iface))
	defer C.free(unsafe.Pointer(host))
	opts := C.gt_pg_options{
		size:         C.int64_t(unsafe.Sizeof(C.gt_pg_options{})),
		backend:      C.int32_t(o.Backend),
		rank:         C.int32_t(o.Rank),
		world_size:   C.int32_t(o.WorldSize),
		master_port:  C.int32_t(o.MasterPort),
		master_addr:  addr,
		gloo_iface:   iface,
		gloo_host:    host,
		timeout_ms:   C.int64_t(o.Timeout.Milliseconds()),
		device_index: C.int32_t(o.Device.Index),
		threads:      C.int32_t(o.Threads),
	}
	if o.AgentStore {
		opts.agent_store = 1
	}
	var pg C.gt_pg
	if err := errorOf(C.gt_pg_new(&opts, &pg), "NewProcessGroup"); err != nil {
		return nil, err
	}
	bucket := o.BucketBytes
	if bucket == 0 {
		bucket = DefaultBucketBytes
	}
	g := &ProcessGroup{c: pg, rank: o.Rank, size: o.WorldSize, backend: o.Backend, device: CPU, bucket: bucket}
	if o.Backend == NCCL {
		g.device = o.Device
	}
	return g, nil
}

// Rank is this process's rank, 0 to Size()-1.
func (g *ProcessGroup) Rank() int { return g.rank }

// Size is the number of ranks (the world size).
func (g *ProcessGroup) Size() int { return g.size }

// Backend is the group's communication library.
func (g *ProcessGroup) Backend() Backend { return g.backend }

// Close leaves the group. A group whose communication failed is not torn down (its threads may
// wait on a dead peer); the process's exit ends it. Closing twice is harmless.
func (g *ProcessGroup) Close() {
	if g == nil || g.c == nil {
		return
	}
	C.gt_pg_free(g.c)
	g.c = nil
}

func (g *ProcessGroup) handle(op string) (C.gt_pg, error) {
	if g == nil || g.c == nil {
		return nil, &Error{Code: CodeArgument, Op: op, Message: "process group is closed"}
	}
	return g.c, nil
}

// ReduceOp says how AllReduce combines the ranks' tensors.
type ReduceOp int

const (
	Sum     ReduceOp = iota // the sum over the ranks
	Average                 // the sum divided by the world size (floating-point tensors)
)

// AllReduce replaces every tensor of ts by its sum (or mean) over the ranks, in place. The
// tensors are coalesced into buckets (consecutive tensors of one dtype and device flattened into
// buffers of at most GroupOptions.BucketBytes, each reduced as one message, then copied back).
// It returns the payload in bytes: the size of the tensors reduced.
func (g *ProcessGroup) AllReduce(ts []*Tensor, op ReduceOp) (bytes int64, err error) {
	return g.reduce("AllReduce", ts, op, false)
}

// AllReduceGrads is AllReduce on the gradients of params: data-parallel training's gradient
// reduction. A parameter without a gradient is given a zero one first, so every rank's buckets
// agree. It returns the gradient bytes reduced.
func (g *ProcessGroup) AllReduceGrads(params []*Tensor, op ReduceOp) (bytes int64, err error) {
	return g.reduce("AllReduceGrads", params, op, true)
}

func (g *ProcessGroup) reduce(op string, ts []*Tensor, rop ReduceOp, grads bool) (bytes int64, err error) {
	pg, err := g.handle(op)
	if err != nil {
		return 0, err
	}
	if rop != Sum && rop != Average {
		return 0, &Error{Code: CodeArgument, Op: op, Message: fmt.Sprintf("unknown reduce op %d", rop)}
	}
	defer Recover(&err) // a closed tensor in ts
	hs := handles(op, ts)
	avg := C.int(0)
	if rop == Average {
		avg = 1
	}
	var n C.int64_t
	var cerr C.gt_error
	if grads {
		cerr = C.gt_pg_allreduce_grads(pg, handlesArg(hs), C.int64_t(len(hs)), avg, C.int64_t(g.bucket), &n)
	} else {
		cerr = C.gt_pg_allreduce(pg, handlesArg(hs), C.int64_t(len(hs)), avg, C.int64_t(g.bucket), &n)
	}
	runtime.KeepAlive(ts)
	if err := errorOf(cerr, op); err != nil {
		return 0, err
	}
	return int64(n), nil
}

// Broadcast replaces every tensor of ts by rank root's, in place (bucketed like AllReduce;
// parameters that require gradients can be written). It returns the payload in bytes.
func (g *ProcessGroup) Broadcast(ts []*Tensor, root int) (bytes int64, err error) {
	pg, err := g.handle("Broadcast")
	if err != nil {
		return 0, err
	}
	defer Recover(&err)
	hs := handles("Broadcast", ts)
	var n C.int64_t
	cerr := C.gt_pg_broadcast(pg, handlesArg(hs), C.int64_t(len(hs)), C.int(root), C.int64_t(g.bucket), &n)
	runtime.KeepAlive(ts)
	if err := errorOf(cerr, "Broadcast"); err != nil {
		return 0, err
	}
	return int64(n), nil
}

// AllGather returns every rank's t stacked in rank order: a tensor of shape [Size(), t's
// shape...] on t's device. t must have the same shape and dtype on every rank.
func (g *ProcessGroup) AllGather(t *Tensor) (out *Tensor, err error) {
	pg, err := g.handle("AllGather")
	if err != nil {
		return nil, err
	}
	defer Recover(&err)
	var h C.gt_tensor
	cerr := C.gt_pg_allgather(pg, t.c("AllGather"), &h)
	runtime.KeepAlive(t)
	if err := errorOf(cerr, "AllGather"); err != nil {
		return nil, err
	}
	return wrapHandle(h), nil
}

// AllGatherFloat64s gathers a few numbers from every rank: out[r] is rank r's values. Every
// rank must pass the same number of values. The values travel as float64 on the CPU (Gloo) or
// on the group's device (NCCL), exactly.
func (g *ProcessGroup) AllGatherFloat64s(values []float64) (out [][]float64, err error) {
	defer Recover(&err)
	var flat []float64
	WithScope(func(s *Scope) {
		t := FromSlice(values, int64(len(values))).ToDevice(g.device)
		var all *Tensor
		if all, err = g.AllGather(t); err != nil {
			return
		}
		flat = all.Float64s()
	})
	if err != nil {
		return nil, err
	}
	out = make([][]float64, g.size)
	for r := range out {
		out[r] = flat[r*len(values) : (r+1)*len(values) : (r+1)*len(values)]
	}
	return out, nil
}

// Barrier returns once every rank has entered it.
func (g *ProcessGroup) Barrier() error {
	pg, err := g.handle("Barrier")
	if err != nil {
		return err
	}
	return errorOf(C.gt_pg_barrier(pg), "Barrier")
}
