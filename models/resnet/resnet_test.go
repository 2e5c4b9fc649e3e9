package resnet

import (
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/mlsysrep/mlsysrep/pkg/backend/purego"
)

// trainableParams builds the network once and counts its trainable weights.
func trainableParams(t *testing.T, cfg Config) int {
	t.Helper()
	be, err := purego.New("")
	if err != nil {
		t.Fatal(err)
	}
	store := model.NewStore()
	g := graph.NewGraph(be, "count")
	logits := cfg.Build(store.RootScope(), graph.Parameter(g, "images", shapes.Make(dtypes.Float32, 2, 32, 32, 3)))
	if got := logits.Shape().Dimensions; len(got) != 2 || got[0] != 2 || got[1] != cfg.NumClasses {
		t.Fatalf("logits shape %v", got)
	}
	n := 0
	for v := range store.RootScope().IterVariables() {
		if v.Trainable {
			n += v.Shape().Size()
		}
	}
	return n
}

// PROTOCOL sections 3a and 6: 11.17 M parameters at full width, 701,466 at
// width 0.25 (convs without bias, BN scale and offset, FC with bias).
func TestParameterCount(t *testing.T) {
	for _, tc := range []struct {
		width float64
		want  int
	}{
		{0.25, 701466},
		{1, 11173962},
	} {
		cfg := Default
		cfg.Width = tc.width
		if got := trainableParams(t, cfg); got != tc.want {
			t.Errorf("width %g: %d trainable parameters, want %d", tc.width, got, tc.want)
		}
	}
}

func TestForwardFLOPs(t *testing.T) {
	// Full width: 0.556 G multiply-adds per 32x32 image, the usual figure.
	if got := Default.ForwardFLOPs() / 2; got < 0.55e9 || got > 0.56e9 {
		t.Errorf("forward MACs %g, want about 0.556e9", got)
	}
}

func TestValidate(t *testing.T) {
	if err := (Config{Width: 0, BlocksPerStage: 2, NumClasses: 10}).Validate(); err == nil {
		t.Error("width 0 accepted")
	}
	if err := Default.Validate(); err != nil {
		t.Error(err)
	}
}
