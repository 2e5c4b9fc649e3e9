package main

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train"
	"github.com/gomlx/gomlx/ml/train/loss"
	"github.com/gomlx/gomlx/ml/train/optimizer"
	"github.com/mlsysrep/mlsysrep/datasets"
	"github.com/mlsysrep/mlsysrep/datasets/imagefolder"
	"github.com/mlsysrep/mlsysrep/models/resnet"
	"github.com/mlsysrep/mlsysrep/pkg/backend"
)

// demoPreset sizes the demo run.
type demoPreset struct {
	width               float64
	trainImages, epochs int
	testImages, batch   int
	learningRate        float64
}

var demoPresets = map[string]demoPreset{
	// tiny: seconds, for tests.
	"tiny": {width: 0.125, trainImages: 128, epochs: 1, testImages: 64, batch: 32, learningRate: 0.05},
	// smoke: about a minute on 2 cores.
	"smoke": {width: 0.25, trainImages: 2000, epochs: 2, testImages: 1000, batch: 64, learningRate: 0.05},
	// quick: the quick preset's data (first 10,000 training images, whole
	// test split) for a few epochs.
	"quick": {width: 0.25, trainImages: 10000, epochs: 5, testImages: 10000, batch: 128, learningRate: 0.05},
	// gpu: the full-width network on the whole training split, for XLA on a
	// GPU (docker/gpu-check.sh).
	"gpu": {width: 1, trainImages: 50000, epochs: 3, testImages: 10000, batch: 128, learningRate: 0.05},
}

// cifarArchive is the offline CIFAR-10 JPEG copy's file name.
const cifarArchive = "cifar10-jpeg.tar.gz"

// split is a labeled image set ready for training: normalized NHWC floats.
type split struct {
	images []float32
	labels []int32
	n      int
	source string
}

func runDemo(args []string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	presetName := fs.String("preset", "smoke", "run size: tiny, smoke, quick or gpu")
	batchFlag := fs.Int("batch", 0, "batch size (default: the preset's)")
	epochsFlag := fs.Int("epochs", 0, "epochs (default: the preset's)")
	archives := fs.String("archives", os.Getenv("MLSYSREP_ARCHIVES"), "folder holding "+cifarArchive+" (default $MLSYSREP_ARCHIVES)")
	backendName := fs.String("backend", "", "compute backend (default: $GOMLX_BACKEND, else XLA if installed, else purego)")
	seed := fs.Uint64("seed", 1, "seed of the data order")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	preset, ok := demoPresets[*presetName]
	if !ok {
		return fmt.Errorf("%w: unknown preset %q (valid: tiny, smoke, quick, gpu)", errUsage, *presetName)
	}
	if *batchFlag < 0 || *epochsFlag < 0 {
		return fmt.Errorf("%w: -batch and -epochs must be positive", errUsage)
	}
	if *batchFlag > 0 {
		preset.batch = *batchFlag
	}
	if *epochsFlag > 0 {
		preset.epochs = *epochsFlag
	}
	be, line, err := backend.Select(*backendName)
	if err != nil {
		return err
	}
	fmt.Println(line)

	trainSet, testSet, err := loadCIFAR(*archives, preset)
	if err != nil {
		return err
	}
	fmt.Printf("data: train %d images from %s; test %d images from %s\n", trainSet.n, trainSet.source, testSet.n, testSet.source)

	cfg := resnet.Default
	cfg.Width = preset.width
	store := model.NewStore()
	if err := store.SetRNGStateFromSeed(int64(*seed)); err != nil {
		return err
	}
	store.RootScope().SetParam(optimizer.ParamLearningRate, preset.learningRate)
	// GoMLX's SGD divides the learning rate by sqrt(step) unless told not to.
	trainer := train.NewTrainer(be, store, cfg.ModelFn(), loss.SparseCategoricalCrossEntropyLogits,
		optimizer.StochasticGradientDescent().WithDecay(false).Done(), nil, nil)
	fmt.Printf("model: FP CIFAR ResNet-18 at width %g; preset %s: %d epochs, batch %d, lr %g (plain SGD), seed %d\n",
		preset.width, *presetName, preset.epochs, preset.batch, preset.learningRate, *seed)

	rng := rand.New(rand.NewPCG(*seed, 0))
	stepsPerEpoch := trainSet.n / preset.batch // the last partial batch is dropped
	totalSteps := stepsPerEpoch * preset.epochs
	start := time.Now()
	step := 0
	if stepsPerEpoch == 0 {
		return fmt.Errorf("batch %d is larger than the %d training images", preset.batch, trainSet.n)
	}
	for epoch := range preset.epochs {
		perm := rng.Perm(trainSet.n)
		var epochStart time.Time // after the epoch's first step, which may compile the graph
		for s := range stepsPerEpoch {
			if s == 1 {
				epochStart = time.Now()
			}
			images, labels := trainSet.batch(perm[s*preset.batch : (s+1)*preset.batch])
			metrics, err := trainer.TrainStep(train.Batch{Inputs: []*tensors.Tensor{images}, Labels: []*tensors.Tensor{labels}})
			if err != nil {
				return fmt.Errorf("training step %d: %w", step, err)
			}
			step++
			lossValue := tensors.ToScalar[float32](metrics[0])
			if math.IsNaN(float64(lossValue)) || math.IsInf(float64(lossValue), 0) {
				return fmt.Errorf("loss became %v at epoch %d step %d: stopping", lossValue, epoch+1, s+1)
			}
			if s%10 == 9 || s == stepsPerEpoch-1 {
				elapsed := time.Since(start)
				rate := float64(step*preset.batch) / elapsed.Seconds()
				eta := time.Duration(float64(elapsed) / float64(step) * float64(totalSteps-step))
				fmt.Printf("epoch %d/%d step %d/%d loss %.4f %.1f images/s ETA %s\n",
					epoch+1, preset.epochs, s+1, stepsPerEpoch, lossValue, rate, eta.Round(time.Second))
			}
		}
		epochRate := 0.0
		if stepsPerEpoch > 1 {
			epochRate = float64((stepsPerEpoch-1)*preset.batch) / time.Since(epochStart).Seconds()
		}
		acc, err := evaluate(be, store, cfg, testSet, preset.batch)
		if err != nil {
			return err
		}
		fmt.Printf("epoch %d/%d: training %.1f images/s (steps 2..%d), test accuracy %.2f%% (%d images)\n",
			epoch+1, preset.epochs, epochRate, stepsPerEpoch, 100*acc, testSet.n)
	}
	fmt.Printf("done in %s\n", time.Since(start).Round(time.Second))
	return nil
}

// loadCIFAR reads the first N images in canonical order of the offline JPEG
// copy, or synthesizes data (saying so) when the archive is not there.
func loadCIFAR(archives string, preset demoPreset) (trainSet, testSet *split, err error) {
	path := filepath.Join(archives, cifarArchive)
	if _, statErr := os.Stat(path); archives == "" || errors.Is(statErr, os.ErrNotExist) {
		fmt.Printf("data: %s not found (looked in %q; set MLSYSREP_ARCHIVES or -archives): "+
			"using SYNTHETIC images, accuracy means nothing\n", cifarArchive, archives)
		return synthetic(preset.trainImages, 1), synthetic(preset.testImages, 2), nil
	}
	load := func(splitName string, n int) (*split, error) {
		im, err := imagefolder.LoadTarGz(path, "cifar10-jpeg/"+splitName)
		if err != nil {
			return nil, err
		}
		order := datasets.CanonicalOrder(im.Labels)[:min(n, im.N)]
		s := &split{n: len(order), source: fmt.Sprintf("CIFAR-10 (JPEG q75 mirror) %s, first %d in canonical order", splitName, len(order))}
		s.images = make([]float32, s.n*im.ImageSize())
		for i, idx := range order {
			datasets.Normalize(s.images[i*im.ImageSize():(i+1)*im.ImageSize()], im.Image(idx), datasets.CIFAR10Mean, datasets.CIFAR10Std)
			s.labels = append(s.labels, im.Labels[idx])
		}
		return s, nil
	}
	if trainSet, err = load("train", preset.trainImages); err != nil {
		return nil, nil, err
	}
	if testSet, err = load("test", preset.testImages); err != nil {
		return nil, nil, err
	}
	return trainSet, testSet, nil
}

// synthetic makes learnable random images: the label brightens one of ten
// 8x8 tiles.
func synthetic(n int, seed uint64) *split {
	rng := rand.New(rand.NewPCG(seed, 7))
	s := &split{n: n, images: make([]float32, n*32*32*3), labels: make([]int32, n), source: "synthetic"}
	for i := range n {
		label := int32(i % 10)
		s.labels[i] = label
		for p := range 32 * 32 * 3 {
			v := float32(rng.NormFloat64())
			if y, x := p/96, (p/3)%32; y/8 == int(label)/4 && x/8 == int(label)%4 {
				v += 2
			}
			s.images[i*32*32*3+p] = v
		}
	}
	return s
}

// batch returns the images and labels at the given indices as tensors.
func (s *split) batch(idx []int) (*tensors.Tensor, *tensors.Tensor) {
	const size = 32 * 32 * 3
	images := make([]float32, len(idx)*size)
	labels := make([]int32, len(idx))
	for i, j := range idx {
		copy(images[i*size:(i+1)*size], s.images[j*size:(j+1)*size])
		labels[i] = s.labels[j]
	}
	return tensors.FromFlatDataAndDimensions(images, len(idx), 32, 32, 3),
		tensors.FromFlatDataAndDimensions(labels, len(idx), 1)
}

// evaluate returns the top-1 accuracy on the split, batch norm in inference
// mode.
func evaluate(be compute.Backend, store *model.Store, cfg resnet.Config, s *split, batch int) (float64, error) {
	exec, err := model.NewExec(be, store, func(scope *model.Scope, images *graph.Node) *graph.Node {
		return graph.ArgMax(cfg.Build(scope, images), -1)
	})
	if err != nil {
		return 0, err
	}
	correct := 0
	for start := 0; start < s.n; start += batch {
		idx := make([]int, 0, batch)
		for i := start; i < min(start+batch, s.n); i++ {
			idx = append(idx, i)
		}
		images, _ := s.batch(idx)
		outs, err := exec.Call(images)
		if err != nil {
			return 0, fmt.Errorf("evaluation: %w", err)
		}
		for i, p := range tensors.MustCopyFlatData[int32](outs[0]) {
			if p == s.labels[idx[i]] {
				correct++
			}
		}
	}
	return float64(correct) / float64(s.n), nil
}
