package model

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/growthtrain/growthtrain/bindings/torch"
)

// Model is a LLaMA-family decoder. Its parameters are addressable by their HF names
// (model.layers.{i}.self_attn.q_proj.weight, ...), and each layer carries controls the
// diagnostics and the trainer set without copying the model.
type Model struct {
	Config Config
	Device torch.Device
	DType  torch.DType // of the parameters
	// Compute, when it is bfloat16 or float16 and the parameters are float32, is mixed
	// precision: the matrix products and attention of the layers and the head run in Compute
	// (libtorch's autocast), while the parameters, their gradients and the residual stream stay
	// float32, as torch.autocast does for HF models. Any other value: compute in DType.
	Compute torch.DType

	params map[string]*torch.Tensor
	names  []string // HF order: embeddings, layers in order, final norm, head
	Layers []LayerControl

	rope *ropeCache
}

// LayerControl changes what a decoder layer does in the forward pass.
type LayerControl struct {
	Skip     bool    // the whole block is the identity
	SkipAttn bool    // the attention branch adds nothing
	SkipMLP  bool    // the MLP branch adds nothing
	AttnOut  float64 // multiplies the attention branch's output (its residual update); 1 = as is
	MLPOut   float64 // multiplies the MLP branch's output; 1 = as is
}

// DefaultControl is a layer doing exactly what its weights say.
func DefaultControl() LayerControl { return LayerControl{AttnOut: 1, MLPOut: 1} }

// Layer-local parameter names, after "model.layers.{i}.".
var (
	attnNames = []string{"self_attn.q_proj.weight", "self_attn.k_proj.weight", "self_attn.v_proj.weight", "self_attn.o_proj.weight"}
	mlpNames  = []string{"mlp.gate_proj.weight", "mlp.up_proj.weight", "mlp.down_proj.weight"}
	normNames = []string{"input_layernorm.weight", "post_attention_layernorm.weight"}
)

// LayerPrefix returns "model.layers.{i}.".
func LayerPrefix(i int) string { return "model.layers." + strconv.Itoa(i) + "." }

// ParamShapes returns the HF name and shape of every parameter of a model with config c, in
// HF order. Tied models have no lm_head.weight.
func ParamShapes(c Config) ([]string, map[string][]int64) {
	h, q, kv, ff := int64(c.HiddenSize), int64(c.NumAttentionHeads*c.HeadDim), int64(c.NumKeyValueHeads*c.HeadDim), int64(c.IntermediateSize)
	shapes := map[string][]int64{"model.embed_tokens.weight": {int64(c.VocabSize), h}}
	names := []string{"model.embed_tokens.weight"}
	add := func(name string, shape ...int64) {
		names = append(names, name)
		shapes[name] = shape
	}
	a := c.Arch()
	for i := 0; i < c.NumHiddenLayers; i++ {
		p := LayerPrefix(i)
		add(p+"self_attn.q_proj.weight", q, h)
		add(p+"self_attn.k_proj.weight", kv, h)
		add(p+"self_attn.v_proj.weight", kv, h)
		add(p+"self_attn.o_proj.weight", h, q)
		if a.BiasQKV {
			add(p+"self_attn.q_proj.bias", q)
			add(p+"self_attn.k_proj.bias", kv)
			add(p+"self_attn.v_proj.bias", kv)
		}
		if a.BiasO {
			add(p+"self_attn.o_proj.bias", h)
		}
		if a.QKNorm {
			add(p+"self_attn.q_norm.weight", int64(c.HeadDim))
			add(p+"self_attn.k_norm.weight", int64(c.HeadDim))
		}
		add(p+"mlp.gate_proj.weight", ff, h)
		add(p+"mlp.up_proj.weight", ff, h)
		add(p+"mlp.down_proj.weight", h, ff)
		if a.BiasMLP {
			add(p+"mlp.gate_proj.bias", ff)
			add(p+"mlp.up_proj.bias", ff)
			add(p+"mlp.down_proj.bias", h)
		}
		add(p+"input_layernorm.weight", h)
		add(p+"post_attention_layernorm.weight", h)
	}
	add("model.norm.weight", h)
	if !c.TieWordEmbeddings {
		add("lm_head.weight", int64(c.VocabSize), h)
	}
	return names, shapes
}

// New returns a model with config c and parameters initialised as HF's LlamaPreTrainedModel
// does (normal with std 0.02, norms at 1 or, where they scale by 1+w, at 0, biases at 0),
// float32 on the CPU, drawn from gen.
func New(c Config, gen *torch.Generator) (m *Model, err error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	defer torch.Recover(&err)
	names, shapes := ParamShapes(c)
	params := make(map[string]*torch.Tensor, len(names))
	for _, n := range names {
		switch {
		case strings.HasSuffix(n, "norm.weight") && c.Arch().NormOffset:
			params[n] = torch.Zeros(shapes[n])
		case strings.HasSuffix(n, "norm.weight"):
			params[n] = torch.Ones(shapes[n])
		case strings.HasSuffix(n, ".bias"):
			params[n] = torch.Zeros(shapes[n])
		default:
			w := torch.Randn(shapes[n], torch.WithGenerator(gen))
			params[n] = w.MulScalar(0.02)
			w.Close()
		}
	}
	return assemble(c, names, params)
}

// assemble takes ownership of params (one per name, CPU or any device, any float dtype) and
// makes them leaf parameters of a new model.
func assemble(c Config, names []string, params map[string]*torch.Tensor) (*Model, error) {
	m := &Model{Config: c, params: params, names: names, Layers: make([]LayerControl, c.NumHiddenLayers)}
	for i := range m.Layers {
		m.Layers[i] = DefaultControl()
	}
	first := params[names[0]]
	m.Device, m.DType = first.Device(), first.DType()
	for _, n := range names {
		torch.Persist(params[n]) // parameters outlive any scope the model was loaded in
		params[n].SetRequiresGrad(true)
	}
	return m, nil
}

// Close frees the parameters and caches.
func (m *Model) Close() {
	for _, t := range m.params {
		t.Close()
	}
	m.params = nil
	m.rope.close()
	m.rope = nil
}

// Names returns the HF names of the parameters, in HF order.
func (m *Model) Names() []string { return slices.Clone(m.names) }

// Param returns the parameter with the given HF name (lm_head.weight is the embedding matrix
// when the embeddings are tied), or nil.
func (m *Model) Param(name string) *torch.Tensor {
	if name == "lm_head.weight" && m.Config.TieWordEmbeddings {
		name = "model.embed_tokens.weight"
	}
	return m.params[name]
}

// LayerParamNames returns the HF names of layer i's parameters.
func (m *Model) LayerParamNames(i int) []string {
	p := LayerPrefix(i)
	var out []string
	for _, n := range m.names {
		if strings.HasPrefix(n, p) {
			out = append(out, n)
		}
	}
	return out
}

// NumParams returns the number of parameter elements.
func (m *Model) NumParams() int64 {
	var n int64
	for _, t := range m.params {
		n += t.Numel()
	}
	return n
}

// SetParam copies value (any dtype/device; same shape) into the named parameter, in place.
func (m *Model) SetParam(name string, value *torch.Tensor) (err error) {
	defer torch.Recover(&err)
	p := m.Param(name)
	if p == nil {
		return fmt.Errorf("model has no parameter %q", name)
	}
	if got, want := value.Shape(), p.Shape(); !slices.Equal(got, want) {
		return fmt.Errorf("parameter %s: shape %v, want %v", name, got, want)
	}
	torch.NoGrad(func() { p.CopyFrom(value) })
	return nil
}

// SetTrainable turns gradient recording on or off for the named parameters (freezing).
func (m *Model) SetTrainable(on bool, names ...string) (err error) {
	defer torch.Recover(&err)
	for _, n := range names {
		p := m.Param(n)
		if p == nil {
			return fmt.Errorf("model has no parameter %q", n)
		}
		p.SetRequiresGrad(on)
	}
	return nil
}

// Which selects the matrices of a layer that ScaleLayer changes.
type Which int

// The weight sets ScaleLayer can scale.
const (
	AllMatrices       Which = iota // q, k, v, o, gate, up, down (not the norms)
	OutputProjections              // o_proj and down_proj: scales the layer's residual updates exactly
)

// ScaleLayer multiplies the selected weight matrices of layer i by alpha, in place.
func (m *Model) ScaleLayer(i int, alpha float64, which Which) (err error) {
	if i < 0 || i >= m.Config.NumHiddenLayers {
		return fmt.Errorf("layer %d out of range [0, %d)", i, m.Config.NumHiddenLayers)
	}
	defer torch.Recover(&err)
	names := append(slices.Clone(attnNames), mlpNames...)
	if which == OutputProjections {
		names = []string{"self_attn.o_proj.weight", "mlp.down_proj.weight"}
	}
	torch.NoGrad(func() {
		for _, n := range names {
			m.params[LayerPrefix(i)+n].MulScalarInPlace(alpha)
		}
	})
	return nil
}

// To moves the model to device and converts its floating parameters to dtype, in place of the
// old tensors (which are freed).
func (m *Model) To(device torch.Device, dtype torch.DType) (err error) {
	defer torch.Recover(&err)
	for n, t := range m.params {
		nt := t.ToDeviceDType(device, dtype).Detach().Clone()
		t.Close()
		torch.Persist(nt)
		nt.SetRequiresGrad(true)
		m.params[n] = nt
	}
	m.Device, m.DType = device, dtype
	m.rope.close()
	m.rope = nil
	return nil
}

// ropeCache holds cos and sin of the rotary embedding for positions [0, n).
type ropeCache struct {
	n        int64
	cos, sin *torch.Tensor // [n, head_dim] in the model's dtype
}

func (r *ropeCache) close() {
	if r != nil {
		torch.Close(r.cos, r.sin)
	}
}

// ropeTables returns cos and sin for the first n positions, computed as HF's
// LlamaRotaryEmbedding does (float32 throughout, then cast) and cached.
func (m *Model) ropeTables(n int64) (cos, sin *torch.Tensor) {
	if m.rope != nil && m.rope.n >= n {
		return m.rope.cos.Narrow(0, 0, n), m.rope.sin.Narrow(0, 0, n)
	}
	size := max(n, 256)
	if m.rope != nil {
		size = max(size, 2*m.rope.n)
	}
	m.rope.close()
	d := float64(m.Config.HeadDim)
	torch.WithScope(func(s *torch.Scope) {
		torch.NoGrad(func() {
			// inv_freq = 1 / theta^(arange(0, d, 2) / d), all in float32 like HF.
			exps := torch.Arange(0, d, 2, torch.WithDType(torch.Int64)).To(torch.Float32).DivScalar(d)
			invFreq := exps.PowBase(ropeBase(m.Config)).Reciprocal()
			if rs := m.Config.RopeScaling; rs != nil && rs.Type == "linear" {
				invFreq = invFreq.DivScalar(rs.Factor)
			} else if rs != nil && rs.Type == "llama3" {
				invFreq = torch.FromSlice(llama3InvFreq(invFreq.Float32s(), rs))
			}
			pos := torch.Arange(0, float64(size), 1, torch.WithDType(torch.Int64)).To(torch.Float32)
			freqs := pos.Unsqueeze(1).Mul(invFreq.Unsqueeze(0)) // [size, d/2]
			emb := torch.Cat([]*torch.Tensor{freqs, freqs}, 1)
			m.rope = &ropeCache{
				n:   size,
				cos: emb.Cos().ToDeviceDType(m.Device, m.DType).Contiguous(),
				sin: emb.Sin().ToDeviceDType(m.Device, m.DType).Contiguous(),
			}
			// The cache outlives this scope and whatever scope the caller is in.
			torch.Persist(m.rope.cos, m.rope.sin)
		})
	})
	return m.rope.cos.Narrow(0, 0, n), m.rope.sin.Narrow(0, 0, n)
}

// ropeBase is the RoPE base: rope_theta, or for dynamic NTK scaling the base transformers
// computes at initialisation (for sequences up to max_position_embeddings, the only ones
// Forward accepts, it keeps it), in the same float64 arithmetic.
func ropeBase(c Config) float64 {
	base := c.RopeTheta
	if rs := c.RopeScaling; rs != nil && rs.Type == "dynamic" {
		d := float64(c.HeadDim)
		seq := float64(c.MaxPositionEmbeddings)
		base *= math.Pow(rs.Factor*seq/float64(c.MaxPositionEmbeddings)-(rs.Factor-1), d/(d-2))
	}
	return base
}

// llama3InvFreq applies Llama 3.1's frequency-dependent scaling to the default inverse
// frequencies, in float32 operation by operation as transformers' _compute_llama3_parameters:
// long wavelengths are divided by factor, short ones kept, and those between interpolated.
func llama3InvFreq(inv []float32, rs *RopeScaling) []float32 {
	f32 := func(x float64) float32 { return float32(x) }
	factor, lo, hi := f32(rs.Factor), f32(rs.LowFreqFactor), f32(rs.HighFreqFactor)
	old := f32(float64(rs.OriginalMaxPositionEmbeddings))
	loWave := f32(float64(rs.OriginalMaxPositionEmbeddings) / rs.LowFreqFactor)
	hiWave := f32(float64(rs.OriginalMaxPositionEmbeddings) / rs.HighFreqFactor)
	out := make([]float32, len(inv))
	for i, f := range inv {
		wave := f32(2*math.Pi) / f
		v := f
		if wave > loWave {
			v = f / factor
		}
		if !(wave < hiWave) && !(wave > loWave) {
			smooth := (old/wave - lo) / (hi - lo)
			v = (1-smooth)*v/factor + smooth*v
		}
		out[i] = v
	}
	return out
}

// Mixed reports whether the model computes in a lower precision than its parameters (Compute).
func (m *Model) Mixed() bool {
	return m.DType == torch.Float32 && (m.Compute == torch.BFloat16 || m.Compute == torch.Float16)
}

// compute runs f under the model's compute precision: inside an autocast region when Mixed.
func (m *Model) compute(f func()) {
	if m.Mixed() {
		torch.Autocast(m.Device, m.Compute, f)
		return
	}
	f()
}

// attnScale is the softmax scale 1/sqrt(head_dim).
func (m *Model) attnScale() float64 { return 1 / math.Sqrt(float64(m.Config.HeadDim)) }
