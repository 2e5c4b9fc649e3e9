// Package pipeline turns a decoded image set into GoMLX training and
// evaluation batches: seeded shuffling per epoch, the reference's
// augmentations (transform.go), and decoding/augmentation in parallel
// goroutines with prefetch, as a train.Dataset.
package pipeline

import (
	"fmt"
	"iter"
	"math/rand/v2"
	"runtime"
	"sync"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/train"
	"github.com/mlsysrep/mlsysrep/datasets"
)

// LastBatch says what happens to the last partial batch of an epoch.
type LastBatch int

const (
	// Keep yields it smaller (evaluation: every image counted once).
	Keep LastBatch = iota
	// Drop skips it (training, as the reference's drop_last might).
	Drop
	// Pad fills it up with images from the start of the epoch's order, so
	// every batch has the same shape.
	Pad
)

// Loader is a train.Dataset over an in-memory image set. Each Iter call is
// one epoch; the epoch number seeds the shuffle and the augmentation, so a
// (Seed, epoch) pair always gives the same batches.
type Loader struct {
	Images    *datasets.Images
	Batch     int
	Shuffle   bool
	Seed      uint64
	Last      LastBatch
	Transform Transform
	// Workers build batches in parallel (default GOMAXPROCS) and keep up to
	// Prefetch batches ready ahead of the consumer (default 2 x Workers).
	Workers, Prefetch int

	mu    sync.Mutex
	epoch int
}

var _ train.Dataset = (*Loader)(nil)

// Name implements train.Dataset.
func (l *Loader) Name() string { return l.Images.Source }

// Epoch is the number of epochs Iter has started.
func (l *Loader) Epoch() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.epoch
}

// SetEpoch sets the next epoch's number (to resume a run where it stopped).
func (l *Loader) SetEpoch(e int) {
	l.mu.Lock()
	l.epoch = e
	l.mu.Unlock()
}

// NumBatches is the number of batches per epoch.
func (l *Loader) NumBatches() int {
	n := l.Images.N / l.Batch
	if l.Images.N%l.Batch != 0 && l.Last != Drop {
		n++
	}
	return n
}

// Check reports a loader that cannot produce batches.
func (l *Loader) Check() error {
	switch {
	case l.Images == nil || l.Images.N == 0:
		return fmt.Errorf("pipeline: no images")
	case l.Batch <= 0:
		return fmt.Errorf("pipeline: batch size %d", l.Batch)
	case l.Transform == nil:
		return fmt.Errorf("pipeline: no transform")
	case l.Last == Drop && l.Images.N < l.Batch:
		return fmt.Errorf("pipeline: %d images make no full batch of %d", l.Images.N, l.Batch)
	}
	return nil
}

// order returns the image indices of an epoch.
func (l *Loader) order(epoch int) []int {
	n := l.Images.N
	if !l.Shuffle {
		idx := make([]int, n)
		for i := range idx {
			idx[i] = i
		}
		return idx
	}
	return rand.New(rand.NewPCG(l.Seed, uint64(epoch)+1)).Perm(n)
}

// batchIndices returns the images of batch b.
func (l *Loader) batchIndices(order []int, b int) []int {
	start, end := b*l.Batch, min((b+1)*l.Batch, len(order))
	idx := append([]int{}, order[start:end]...)
	for i := 0; l.Last == Pad && len(idx) < l.Batch; i++ {
		idx = append(idx, order[i%len(order)])
	}
	return idx
}

// build makes batch b of an epoch.
func (l *Loader) build(epoch, b int, idx []int) train.Batch {
	size := l.Transform.OutputSize()
	per := size * size * 3
	images := make([]float32, len(idx)*per)
	labels := make([]int32, len(idx))
	rng := rand.New(rand.NewPCG(l.Seed^0x9e3779b97f4a7c15, uint64(epoch)<<32|uint64(b)))
	for i, j := range idx {
		l.Transform.Apply(rng, l.Images.Image(j), l.Images.Height, l.Images.Width, images[i*per:(i+1)*per])
		labels[i] = l.Images.Labels[j]
	}
	return train.Batch{
		Inputs: []*tensors.Tensor{tensors.FromFlatDataAndDimensions(images, len(idx), size, size, 3)},
		Labels: []*tensors.Tensor{tensors.FromFlatDataAndDimensions(labels, len(idx), 1)},
	}
}

// Iter implements train.Dataset: one epoch of batches, built by Workers
// goroutines and delivered in order.
func (l *Loader) Iter() iter.Seq2[train.Batch, error] {
	l.mu.Lock()
	epoch := l.epoch
	l.epoch++
	l.mu.Unlock()
	return func(yield func(train.Batch, error) bool) {
		if err := l.Check(); err != nil {
			yield(train.Batch{}, err)
			return
		}
		order := l.order(epoch)
		workers := l.Workers
		if workers <= 0 {
			workers = runtime.GOMAXPROCS(0)
		}
		prefetch := l.Prefetch
		if prefetch <= 0 {
			prefetch = 2 * workers
		}
		type job struct {
			b   int
			out chan train.Batch
		}
		jobs := make(chan job)
		queue := make(chan chan train.Batch, prefetch)
		done := make(chan struct{})
		var wg sync.WaitGroup
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := range jobs {
					j.out <- l.build(epoch, j.b, l.batchIndices(order, j.b))
				}
			}()
		}
		go func() { // dispatcher: at most prefetch batches in flight
			defer close(queue)
			defer close(jobs)
			for b := range l.NumBatches() {
				out := make(chan train.Batch, 1)
				select {
				case queue <- out:
				case <-done:
					return
				}
				select {
				case jobs <- job{b, out}:
				case <-done:
					return
				}
			}
		}()
		defer func() {
			close(done)
			for range queue { // let the dispatcher and workers finish
			}
			wg.Wait()
		}()
		for out := range queue {
			if !yield(<-out, nil) {
				return
			}
		}
	}
}
