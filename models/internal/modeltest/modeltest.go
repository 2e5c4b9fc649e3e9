// Package modeltest holds the checks every model's tests run: summaries,
// parameter counts, a short training run, and BN folding.
package modeltest

import (
	"maps"
	"math"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train"
	"github.com/gomlx/gomlx/ml/train/loss"
	"github.com/gomlx/gomlx/ml/train/optimizer"
	"github.com/mlsysrep/mlsysrep/models/placement"
	"github.com/mlsysrep/mlsysrep/pkg/backend"
	"github.com/mlsysrep/mlsysrep/pkg/nn"
	"github.com/mlsysrep/mlsysrep/pkg/prune"
	"github.com/mlsysrep/mlsysrep/pkg/quant"
)

// Build is a model function.
type Build = func(scope *model.Scope, x *graph.Node) *graph.Node

// engine is one engine for all tests (purego, or the one MLSYSREP_TEST_ENGINE
// names): tensors stay bound to the backend instance they were first used on.
var engine = sync.OnceValues(backend.TestEngine)

// Backend is the engine shared by the tests.
func Backend(t *testing.T) compute.Backend {
	t.Helper()
	b, err := engine()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Summarize returns the model's summary for a batch of 2 images of the given size.
func Summarize(t *testing.T, build Build, size int) *nn.Summary {
	t.Helper()
	s, err := nn.Summarize(Backend(t), shapes.Make(dtypes.Float32, 2, size, size, 3), build)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Images is a batch of random images with labels.
func Images(n, size, classes int, seed uint64) (*tensors.Tensor, *tensors.Tensor) {
	rng := rand.New(rand.NewPCG(seed, 1))
	px := make([]float32, n*size*size*3)
	labels := make([]int32, n)
	for i := range labels {
		labels[i] = int32(i % classes)
		for j := range size * size * 3 {
			v := float32(rng.NormFloat64())
			// A class-dependent offset on one channel makes the batch learnable.
			if j%3 == int(labels[i])%3 {
				v += float32(labels[i]) / float32(classes)
			}
			px[i*size*size*3+j] = v
		}
	}
	return tensors.FromFlatDataAndDimensions(px, n, size, size, 3), tensors.FromFlatDataAndDimensions(labels, n, 1)
}

// TrainLosses runs steps of plain SGD on one fixed synthetic batch and
// returns the losses.
func TrainLosses(t *testing.T, build Build, size, classes, batch, steps int, lr float64) []float64 {
	t.Helper()
	store := model.NewStore()
	store.SetRNGStateFromSeed(1)
	store.RootScope().SetParam(optimizer.ParamLearningRate, lr)
	trainer := train.NewTrainer(Backend(t), store, build, loss.SparseCategoricalCrossEntropyLogits,
		optimizer.StochasticGradientDescent().WithDecay(false).Done(), nil, nil)
	var losses []float64
	for range steps {
		x, y := Images(batch, size, classes, 7)
		m, err := trainer.TrainStep(train.Batch{Inputs: []*tensors.Tensor{x}, Labels: []*tensors.Tensor{y}})
		if err != nil {
			t.Fatal(err)
		}
		losses = append(losses, float64(tensors.ToScalar[float32](m[0])))
	}
	return losses
}

// AssertLossFalls checks that the loss ends well below the first: the
// lowest of the last lossWindow losses under 0.7 times the first, and none
// of them NaN. Not the last loss alone: these runs of one batch at a high
// learning rate are chaotic (a change of summation order in a convolution
// moves DoReFa MobileNetV2's loss from 0.01 to 1.77 at step 50 while both
// runs train), so one step's loss is a draw, a window's best is not. A model
// that does not learn stays near ln(10) throughout.
func AssertLossFalls(t *testing.T, losses []float64) {
	t.Helper()
	first := losses[0]
	best := math.Inf(1)
	for _, l := range losses[max(0, len(losses)-lossWindow):] {
		if math.IsNaN(l) {
			best = l
			break
		}
		best = min(best, l)
	}
	if math.IsNaN(best) || !(best < 0.7*first) {
		t.Errorf("loss did not fall: %v", losses)
	} else {
		t.Logf("loss %.3f -> %.3f (best of the last %d; last %.3f)", first, best, lossWindow, losses[len(losses)-1])
	}
}

// lossWindow is how many of the last losses AssertLossFalls looks at.
const lossWindow = 10

// FoldedMatches trains fp for a few steps (moving the BN statistics), then
// compares fp's inference logits with ptq's (the same weights, BN folded, PTQ
// mode off) on random inputs: they must agree to 1e-4 relative. Three steps
// leave every running variance near 1, where a fold that drops the BNs'
// epsilon (eps, the model's) agrees as well, so channel 0 of every BN is
// first given a running variance below epsilon (starveChannel).
func FoldedMatches(t *testing.T, fp, ptq Build, size, classes int, eps float64) {
	t.Helper()
	store := model.NewStore()
	store.SetRNGStateFromSeed(2)
	store.RootScope().SetParam(optimizer.ParamLearningRate, 0.05)
	trainer := train.NewTrainer(Backend(t), store, fp, loss.SparseCategoricalCrossEntropyLogits,
		optimizer.StochasticGradientDescent().WithDecay(false).Done(), nil, nil)
	for i := range 3 {
		x, y := Images(8, size, classes, uint64(10+i))
		if _, err := trainer.TrainStep(train.Batch{Inputs: []*tensors.Tensor{x}, Labels: []*tensors.Tensor{y}}); err != nil {
			t.Fatal(err)
		}
	}
	starveChannel(t, store, eps)
	store.RootScope().SetParam(quant.ParamPTQMode, string(quant.PTQOff))
	logits := func(build Build) []float32 {
		exec, err := model.NewExec(Backend(t), store, build)
		if err != nil {
			t.Fatal(err)
		}
		x, _ := Images(4, size, classes, 99)
		out, err := exec.Call(x)
		if err != nil {
			t.Fatal(err)
		}
		return tensors.MustCopyFlatData[float32](out[0])
	}
	want, got := logits(fp), logits(ptq)
	scale := 0.0
	for _, v := range want {
		scale = math.Max(scale, math.Abs(float64(v)))
	}
	for i := range want {
		if d := math.Abs(float64(got[i] - want[i])); !(d <= 1e-4*scale) {
			t.Fatalf("folded logit %d = %g, unfolded %g (scale %g)", i, got[i], want[i], scale)
		}
	}
}

// starveChannel sets channel 0 of every BN in store to a running variance
// of eps/4 and a scale of sqrt(1.25 eps), so that its factor scale /
// sqrt(variance + eps) is 1 (the channel keeps its size through the
// network), but sqrt(5) for a fold that leaves eps out, and 1.9 for one that
// uses 1e-5 where the BN has 1e-4.
func starveChannel(t *testing.T, store *model.Store, eps float64) {
	values := map[string]float32{"running_var": float32(eps / 4), "scale": float32(math.Sqrt(1.25 * eps))}
	for v := range store.RootScope().IterVariables() {
		value, ok := values[v.Name()]
		if !ok || !strings.HasSuffix(v.Scope(), "/bn") {
			continue
		}
		data := tensors.MustCopyFlatData[float32](v.MustValue())
		data[0] = value
		setFloats(t, v, data)
	}
}

// setFloats sets a float32 variable's value.
func setFloats(t *testing.T, v *model.Variable, data []float32) {
	t.Helper()
	if err := v.SetValue(tensors.FromFlatDataAndDimensions(data, v.Shape().Dimensions...)); err != nil {
		t.Fatal(err)
	}
}

// CountVariables counts the variables of store named name.
func CountVariables(store *model.Store, name string) int {
	n := 0
	for v := range store.RootScope().IterVariables() {
		if v.Name() == name {
			n++
		}
	}
	return n
}

// siteBits is the bit width QuantizedSitesBind gives the sites under test:
// the coarsest grid every method accepts (signed LSQ needs 2), so that no
// site's output can survive it unchanged by accident.
const siteBits = 2

// SiteKind names a kind of quantizer site of a model: "w " or "a " (the bit
// width it takes, weights or activations) and the site's scope without its
// block element ("/stage2_block0/conv1/conv" -> "w conv1/conv", "/block3/act2"
// -> "a act2", "/input" -> "a input"), so that one kind gathers the same site
// of every block.
func SiteKind(r nn.Row) string {
	var parts []string
	for _, p := range strings.Split(strings.Trim(r.Scope, "/"), "/") {
		if !blockScope.MatchString(p) {
			parts = append(parts, p)
		}
	}
	bits := "a "
	if r.Kind == nn.QuantizerWeight {
		bits = "w "
	}
	return bits + strings.Join(parts, "/")
}

var blockScope = regexp.MustCompile(`^(stage\d+_)?block\d+$`)

// QuantizedSitesBind checks that the quantizers of method (pact, lsq,
// dorefa, ptq) reach the logits at every kind of site the model places:
// with the config at 32 bits everywhere except the sites of one kind, set to
// 2 bits with placement.ParamWeightBits or ParamActivationBits on their
// scopes, the logits must differ from those with every site at 32 bits. A
// model that builds a quantizer and then uses the full-precision value (or
// an FP weight where a quantized one was made) gives the same logits and
// fails. The kinds found (SiteKind) must be exactly want, the placement of
// PROTOCOL section 3d, so a kind that disappears or appears is noticed too.
//
// The logits come from a training graph (batch statistics in BN) so that
// activations keep their scale through a randomly initialized network; PTQ,
// whose BNs are folded, gets the batch's statistics as running statistics
// (setBatchStatistics) and is calibrated (min/max over the same batch), then
// frozen, in an inference graph.
func QuantizedSitesBind(t *testing.T, build func(quant.Config) Build, method quant.Method, size, classes int, want []string) {
	t.Helper()
	wide := quant.Config{Method: method, WBits: quant.FullPrecision, ABits: quant.FullPrecision, GBits: quant.FullPrecision}
	s := Summarize(t, build(wide), size)
	sites := map[string][]string{} // kind -> scopes
	for _, r := range s.Rows {
		if r.Kind == nn.QuantizerWeight || r.Kind == nn.QuantizerActivation {
			k := SiteKind(r)
			sites[k] = append(sites[k], r.Scope)
		}
	}
	kinds := slices.Sorted(maps.Keys(sites))
	if w := slices.Sorted(slices.Values(want)); !slices.Equal(kinds, w) {
		t.Fatalf("%s: site kinds %q, want %q", method, kinds, w)
	}

	store := model.NewStore()
	store.SetRNGStateFromSeed(3)
	root := store.RootScope()
	x, _ := Images(4, size, classes, 5)
	ptq := method == quant.PTQ
	logits := func() []float32 {
		t.Helper()
		return call(t, store, build(wide), !ptq, x)
	}
	if ptq {
		setBatchStatistics(t, store, build(quant.Config{Method: quant.FP, WBits: 32, ABits: 32, GBits: 32}), x)
		// Calibrate every observer (at 2 bits, so that each creates its
		// variables; calibration passes values through), then freeze.
		root.SetParam(quant.ParamPTQMode, string(quant.PTQCalibrate))
		root.SetParam(placement.ParamActivationBits, siteBits)
		logits()
		root.SetParam(placement.ParamActivationBits, nil)
		root.SetParam(quant.ParamPTQMode, string(quant.PTQFrozen))
	}
	base := logits()
	// Nothing in the graph may be random (dropout, say), or every kind would
	// move the logits, bound or not.
	if again := logits(); !slices.Equal(again, base) {
		t.Fatalf("%s: the logits differ between two runs of the same model: random parts (dropout?) must be off here", method)
	}
	scale := 0.0
	for _, v := range base {
		scale = math.Max(scale, math.Abs(float64(v)))
	}
	for _, k := range kinds {
		param := placement.ParamActivationBits
		if strings.HasPrefix(k, "w ") {
			param = placement.ParamWeightBits
		}
		set := func(v any) {
			for _, sc := range sites[k] {
				store.SetParam(sc+"/"+param, v)
			}
		}
		set(siteBits)
		got := logits()
		set(nil)
		diff := 0.0
		for i := range got {
			diff = math.Max(diff, math.Abs(float64(got[i]-base[i])))
		}
		t.Logf("%s %q (%d sites): logits move by %.3g of %.3g", method, k, len(sites[k]), diff, scale)
		// The two graphs differ only at the sites, so any move is theirs;
		// 1e-3 of the logits' size is far above rounding and far below the
		// smallest move measured (0.25 of it).
		if !(diff > 1e-3*scale) {
			t.Errorf("%s: quantizing %q (%d sites, the first %s) at %d bits moves the logits by %.3g (of %.3g): its output does not reach them",
				method, k, len(sites[k]), sites[k][0], siteBits, diff, scale)
		}
	}
}

// bnMomentum is PyTorch's batch-norm momentum, every CIFAR model's: a
// training step moves the running statistics this far toward the batch's.
const bnMomentum = 0.1

// setBatchStatistics sets every BN's running statistics to those of batch x
// under fp (the model with its BNs, not folded): zeroed, one training-mode
// forward pass (running = 0.9 running + 0.1 batch), then divided by the
// momentum. Folded with the initial statistics (mean 0, variance 1), a
// randomly initialized network shrinks its activations layer after layer:
// MobileNetV2's 2-bit sites then moved its logits (mostly the FC bias) by
// 1e-4 of their size, too close to rounding for a firm threshold; with the
// batch's statistics it keeps their scale, as a trained network does.
func setBatchStatistics(t *testing.T, store *model.Store, fp Build, x *tensors.Tensor) {
	t.Helper()
	exec, err := model.NewExec(Backend(t), store, func(scope *model.Scope, x *graph.Node) *graph.Node {
		scope.SetTraining(x.Graph(), true)
		return fp(scope, x)
	})
	if err != nil {
		t.Fatal(err)
	}
	running := func() []*model.Variable {
		var vs []*model.Variable
		for v := range store.RootScope().IterVariables() {
			if v.Name() == "running_mean" || v.Name() == "running_var" {
				vs = append(vs, v)
			}
		}
		return vs
	}
	scaleAll := func(factor float32) {
		for _, v := range running() {
			values := tensors.MustCopyFlatData[float32](v.MustValue())
			for i := range values {
				values[i] *= factor
			}
			setFloats(t, v, values)
		}
	}
	for _, factor := range []float32{0, 1 / bnMomentum} {
		if _, err := exec.Call(x); err != nil { // creates the variables the first time
			t.Fatal(err)
		}
		scaleAll(factor)
	}
}

// PTQVariantsBind checks that a PTQ config's variants reach the logits: with
// every weight at 2 bits, per-channel scales give other logits than one
// scale per tensor; with every activation at 2 bits, the MSE observer's
// calibration gives other logits than min/max's. Each config is calibrated
// on one batch (whose statistics are the BNs' running statistics, as in
// QuantizedSitesBind) in a store of its own, then frozen. A model or
// placement that drops the config's variant gives equal logits and fails.
func PTQVariantsBind(t *testing.T, build func(quant.Config) Build, size, classes int) {
	t.Helper()
	x, _ := Images(4, size, classes, 5)
	base := model.NewStore()
	base.SetRNGStateFromSeed(3)
	setBatchStatistics(t, base, build(quant.Config{Method: quant.FP, WBits: 32, ABits: 32, GBits: 32}), x)
	logits := func(text string) []float32 {
		t.Helper()
		q := quant.MustParseConfig(text)
		store, err := base.Clone()
		if err != nil {
			t.Fatal(err)
		}
		store.RootScope().SetParam(quant.ParamPTQMode, string(quant.PTQCalibrate))
		call(t, store, build(q), false, x)
		store.RootScope().SetParam(quant.ParamPTQMode, string(quant.PTQFrozen))
		return call(t, store, build(q), false, x)
	}
	for _, pair := range [][2]string{{"ptq:w2a32", "ptq:w2a32/perchannel"}, {"ptq:w32a2", "ptq:w32a2/mse"}} {
		a, b := logits(pair[0]), logits(pair[1])
		if slices.Equal(a, b) {
			t.Errorf("%s and %s give the same logits: the variant does not reach the model", pair[0], pair[1])
		}
	}
}

// Infer runs the model on x with the store in inference mode (batch norm
// on its running statistics) and returns its output.
func Infer(t *testing.T, store *model.Store, build Build, x *tensors.Tensor) []float32 {
	t.Helper()
	return call(t, store, build, false, x)
}

// call runs the model on x with the store, in training mode or not, and
// returns its output.
func call(t *testing.T, store *model.Store, build Build, training bool, x *tensors.Tensor) []float32 {
	t.Helper()
	exec, err := model.NewExec(Backend(t), store, func(scope *model.Scope, x *graph.Node) *graph.Node {
		scope.SetTraining(x.Graph(), training)
		return build(scope, x)
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Call(x)
	if err != nil {
		t.Fatal(err)
	}
	return tensors.MustCopyFlatData[float32](out[0])
}

// PruningSitesBind checks a model's pruning placement (build(prune, q)
// builds it with Config.Prune and quantization q): the unpruned model has no
// masks; the pruned FP model has one mask per conv and FC except the stem,
// wantMasks in all, the stem's conv not among them; its PTQ form has the
// same masks (a pruned FP model's store quantizes as it is); and pruning
// 90% of the weights (pkg/prune.Update) changes the logits of both forms,
// so the masks reach the output.
func PruningSitesBind(t *testing.T, build func(pruned bool, q quant.Config) Build, size, classes, wantMasks int) {
	t.Helper()
	fp := quant.Config{Method: quant.FP, WBits: 32, ABits: 32, GBits: 32}
	x, _ := Images(2, size, classes, 9)
	masks := func(store *model.Store) []string {
		t.Helper()
		layers, err := prune.Layers(store)
		if err != nil {
			t.Fatal(err)
		}
		var scopes []string
		for _, l := range layers {
			scopes = append(scopes, l.Scope)
		}
		slices.Sort(scopes)
		return scopes
	}
	plain := model.NewStore()
	call(t, plain, build(false, fp), false, x)
	if m := masks(plain); len(m) != 0 {
		t.Errorf("the unpruned model has masks: %v", m)
	}
	store := model.NewStore()
	store.SetRNGStateFromSeed(4)
	before := call(t, store, build(true, fp), false, x)
	fpMasks := masks(store)
	if len(fpMasks) != wantMasks || slices.Contains(fpMasks, "/stem/conv") {
		t.Errorf("%d masks, want %d and none on the stem: %v", len(fpMasks), wantMasks, fpMasks)
	}
	ptq := quant.MustParseConfig("ptq:w8a8")
	ptqStore, err := store.Clone()
	if err != nil {
		t.Fatal(err)
	}
	ptqStore.RootScope().SetParam(quant.ParamPTQMode, string(quant.PTQCalibrate))
	ptqBefore := call(t, ptqStore, build(true, ptq), false, x)
	if m := masks(ptqStore); !slices.Equal(m, fpMasks) {
		t.Errorf("the PTQ form's masks differ from the FP form's:\n%v\n%v", m, fpMasks)
	}
	// Prune 90%, then put the unpruned weights back under the masks (as if
	// training had moved them): only a model that applies its masks gives
	// the pruned logits.
	for _, c := range []struct {
		name   string
		s      *model.Store
		b      Build
		before []float32
	}{{"FP", store, build(true, fp), before}, {"PTQ", ptqStore, build(true, ptq), ptqBefore}} {
		layers, err := prune.Layers(c.s)
		if err != nil {
			t.Fatal(err)
		}
		saved := map[*model.Variable]*tensors.Tensor{}
		for _, l := range layers {
			v, err := l.Weights.Value()
			if err != nil {
				t.Fatal(err)
			}
			if saved[l.Weights], err = v.LocalClone(); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := prune.Update(c.s, 0.9, false); err != nil {
			t.Fatal(err)
		}
		after := call(t, c.s, c.b, false, x)
		if slices.Equal(after, c.before) {
			t.Errorf("%s: pruning 90%% of the weights left the logits unchanged", c.name)
		}
		for v, w := range saved {
			if err := v.SetValue(w); err != nil {
				t.Fatal(err)
			}
		}
		if masked := call(t, c.s, c.b, false, x); !slices.Equal(masked, after) {
			t.Errorf("%s: with the unpruned weights back under the masks the logits are not the pruned ones: the masks do not reach the output", c.name)
		}
	}
}

// Values copies a store's variables by path.
func Values(t *testing.T, store *model.Store) map[string]*tensors.Tensor {
	t.Helper()
	out := map[string]*tensors.Tensor{}
	for v := range store.IterVariables() {
		val, err := v.Value()
		if err != nil {
			t.Fatal(err)
		}
		c, err := val.LocalClone()
		if err != nil {
			t.Fatal(err)
		}
		out[v.Path()] = c
	}
	return out
}

// RandomizeBN gives every batch norm random statistics and affine
// parameters, so that a channel's BN is not an identity.
func RandomizeBN(values map[string]*tensors.Tensor, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 1))
	for p, v := range values {
		if !strings.Contains(p, "/bn/") {
			continue
		}
		data := tensors.MustCopyFlatData[float32](v)
		for i := range data {
			switch {
			case strings.HasSuffix(p, "running_var"), strings.HasSuffix(p, "scale"):
				data[i] = 0.5 + rng.Float32()
			default:
				data[i] = float32(rng.NormFloat64() * 0.3)
			}
		}
		values[p] = tensors.FromFlatDataAndDimensions(data, v.Shape().Dimensions...)
	}
}

// SurgeryMatches checks a filter pruning: the small network (build
// small, values smallValues) gives the logits of the dense network whose
// removed channels are cut out (masked values) within 1e-5, and cutting
// them out changes the dense network's logits (values), so the comparison
// tests something.
func SurgeryMatches(t *testing.T, images *tensors.Tensor, dense Build, values, masked map[string]*tensors.Tensor, small Build, smallValues map[string]*tensors.Tensor) {
	t.Helper()
	load := func(v map[string]*tensors.Tensor) *model.Store {
		s := model.NewStore()
		s.SetLoader(valueLoader(maps.Clone(v)))
		return s
	}
	want := Infer(t, load(masked), dense, images)
	got := Infer(t, load(smallValues), small, images)
	if full := Infer(t, load(values), dense, images); slices.Equal(want, full) {
		t.Fatal("cutting the channels out changed no logit: the test does not test")
	}
	scale := 0.0
	for _, v := range want {
		scale = max(scale, math.Abs(float64(v)))
	}
	for i := range want {
		if d := math.Abs(float64(got[i] - want[i])); !(d <= 1e-5*max(scale, 1)) {
			t.Fatalf("logit %d: %g after surgery, %g in the masked dense network", i, got[i], want[i])
		}
	}
}

// valueLoader gives a new store's variables their values as the model
// creates them (models do not import pkg/train's LoadValues).
type valueLoader map[string]*tensors.Tensor

func (l valueLoader) LoadVariable(_ *model.Store, path string) (*tensors.Tensor, bool) {
	t, ok := l[path]
	return t, ok
}

func (l valueLoader) DeleteVariable(_ *model.Store, path string) error {
	delete(l, path)
	return nil
}
