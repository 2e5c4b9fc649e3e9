package train

import (
	"encoding/json"
	"fmt"
	"math"
)

// Schedule gives the learning rate of each 0-based epoch. Observe is called
// after each epoch with its test loss (only ReduceOnPlateau uses it). State
// and Restore carry what the schedule learned across a checkpoint.
type Schedule interface {
	LR(epoch int) float64
	Observe(epoch int, testLoss float64)
	State() json.RawMessage
	Restore(json.RawMessage) error
	fmt.Stringer
}

// stateless provides State/Restore/Observe for schedules without state.
type stateless struct{}

func (stateless) Observe(int, float64)          {}
func (stateless) State() json.RawMessage        { return json.RawMessage("null") }
func (stateless) Restore(json.RawMessage) error { return nil }

// MultiStep is PyTorch's MultiStepLR: the rate is multiplied by Gamma once
// each milestone epoch has completed ("x0.1 at epoch 20" gives Base for
// epochs 0..19 and Base*0.1 from the 21st epoch, index 20, on).
type MultiStep struct {
	stateless
	Base       float64
	Milestones []int
	Gamma      float64
}

// LR implements Schedule.
func (s MultiStep) LR(epoch int) float64 {
	lr := s.Base
	for _, m := range s.Milestones {
		if epoch >= m {
			lr *= s.Gamma
		}
	}
	return lr
}

func (s MultiStep) String() string {
	if len(s.Milestones) == 0 {
		return fmt.Sprintf("constant lr %g", s.Base)
	}
	return fmt.Sprintf("lr %g, x%g at epochs %v", s.Base, s.Gamma, s.Milestones)
}

// Cosine is PROTOCOL section 6's cosine schedule without warm-up:
// lr(e) = 0.5 * Base * (1 + cos(pi * e / Epochs)).
type Cosine struct {
	stateless
	Base   float64
	Epochs int
}

// LR implements Schedule.
func (s Cosine) LR(epoch int) float64 {
	return 0.5 * s.Base * (1 + math.Cos(math.Pi*float64(epoch)/float64(s.Epochs)))
}

func (s Cosine) String() string {
	return fmt.Sprintf("cosine from %g over %d epochs", s.Base, s.Epochs)
}

// ReduceOnPlateau is PyTorch's ReduceLROnPlateau on the test loss with its
// defaults (mode min, relative threshold 1e-4, no cooldown, min lr 0): after
// more than Patience epochs without the loss improving on the best by the
// threshold, the rate is multiplied by Factor.
type ReduceOnPlateau struct {
	Base     float64
	Factor   float64
	Patience int
	st       plateauState
}

type plateauState struct {
	Current float64 `json:"lr"`
	Best    float64 `json:"best"`
	Bad     int     `json:"bad_epochs"`
	Started bool    `json:"started"`
}

// NewReduceOnPlateau returns the schedule with PyTorch's defaults (factor
// 0.1, patience 10) unless given.
func NewReduceOnPlateau(base, factor float64, patience int) *ReduceOnPlateau {
	return &ReduceOnPlateau{Base: base, Factor: factor, Patience: patience, st: plateauState{Current: base, Best: math.Inf(1)}}
}

// LR implements Schedule: the current rate (epoch is ignored: the rate depends
// on the losses observed so far).
func (s *ReduceOnPlateau) LR(int) float64 { return s.st.Current }

// Observe implements Schedule.
func (s *ReduceOnPlateau) Observe(_ int, loss float64) {
	if loss < s.st.Best*(1-1e-4) {
		s.st.Best, s.st.Bad = loss, 0
	} else {
		s.st.Bad++
	}
	if s.st.Bad > s.Patience {
		s.st.Current *= s.Factor
		s.st.Bad = 0
	}
}

// State implements Schedule.
func (s *ReduceOnPlateau) State() json.RawMessage {
	b, _ := json.Marshal(s.st)
	return b
}

// Restore implements Schedule.
func (s *ReduceOnPlateau) Restore(b json.RawMessage) error { return json.Unmarshal(b, &s.st) }

func (s *ReduceOnPlateau) String() string {
	return fmt.Sprintf("lr %g, reduce-on-plateau of the test loss (x%g, patience %d)", s.Base, s.Factor, s.Patience)
}
