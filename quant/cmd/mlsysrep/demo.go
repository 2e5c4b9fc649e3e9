package main

import (
	"context"
	"flag"
	"fmt"
	"math"
	"os"
	"time"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train"
	"github.com/gomlx/gomlx/ml/train/loss"
	"github.com/gomlx/gomlx/ml/train/optimizer"
	"github.com/mlsysrep/mlsysrep/datasets"
	"github.com/mlsysrep/mlsysrep/datasets/cifar10"
	"github.com/mlsysrep/mlsysrep/datasets/pipeline"
	"github.com/mlsysrep/mlsysrep/models/resnet"
	"github.com/mlsysrep/mlsysrep/pkg/backend"
	mtrain "github.com/mlsysrep/mlsysrep/pkg/train"
	"github.com/mlsysrep/mlsysrep/quant/recipe"
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

func runDemo(args []string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	presetName := fs.String("preset", "smoke", "run size: tiny, smoke, quick or gpu")
	batchFlag := fs.Int("batch", 0, "batch size (default: the preset's)")
	epochsFlag := fs.Int("epochs", 0, "epochs (default: the preset's)")
	data := fs.String("data", "auto", "CIFAR-10 copy: auto, official, jpeg-mirror, or synthetic")
	archives := fs.String("archives", "", "folder holding already-downloaded archives (also searched: $MLSYSREP_ARCHIVES)")
	dataDir := fs.String("datadir", "", "writable data cache (default $MLSYSREP_DATA, else the user cache dir)")
	backendName := fs.String("backend", "", "compute backend (default: $GOMLX_BACKEND, else XLA if installed, else purego)")
	seed := fs.Uint64("seed", 1, "seed of the initialization, data order and augmentation")
	if err := parseFlags(fs, args); err != nil {
		return err
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

	trainSet, testSet, err := loadCIFAR(*data, *archives, *dataDir, preset)
	if err != nil {
		return err
	}
	fmt.Printf("data: train %d images: %s; test %d images: %s\n", trainSet.N, trainSet.Source, testSet.N, testSet.Source)
	trainLoader := &pipeline.Loader{Images: trainSet, Batch: preset.batch, Shuffle: true, Seed: *seed,
		Last: pipeline.Drop, Transform: pipeline.NewCIFARTrain()}
	if err := trainLoader.Check(); err != nil {
		return err
	}

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
	fmt.Printf("model: FP CIFAR ResNet-18 at width %g; preset %s: %d epochs, batch %d, lr %g (plain SGD), "+
		"augmentation pad-4 crop + flip, seed %d\n", preset.width, *presetName, preset.epochs, preset.batch, preset.learningRate, *seed)

	stepsPerEpoch := trainLoader.NumBatches()
	totalSteps := stepsPerEpoch * preset.epochs
	start := time.Now()
	step := 0
	for epoch := range preset.epochs {
		var epochStart time.Time // after the epoch's first step, which may compile the graph
		s := 0
		for batch, err := range trainLoader.Iter() {
			if err != nil {
				return err
			}
			if s == 1 {
				epochStart = time.Now()
			}
			metrics, err := trainer.TrainStep(batch)
			if err != nil {
				return fmt.Errorf("training step %d: %w", step, err)
			}
			step++
			s++
			lossValue := tensors.ToScalar[float32](metrics[0])
			if math.IsNaN(float64(lossValue)) || math.IsInf(float64(lossValue), 0) {
				return fmt.Errorf("loss became %v at epoch %d step %d: stopping", lossValue, epoch+1, s)
			}
			if s%10 == 0 || s == stepsPerEpoch {
				elapsed := time.Since(start)
				rate := float64(step*preset.batch) / elapsed.Seconds()
				eta := time.Duration(float64(elapsed) / float64(step) * float64(totalSteps-step))
				fmt.Printf("epoch %d/%d step %d/%d loss %.4f %.1f images/s ETA %s\n",
					epoch+1, preset.epochs, s, stepsPerEpoch, lossValue, rate, eta.Round(time.Second))
			}
		}
		epochRate := 0.0
		if stepsPerEpoch > 1 {
			epochRate = float64((stepsPerEpoch-1)*preset.batch) / time.Since(epochStart).Seconds()
		}
		_, acc, err := mtrain.Evaluate(be, store, cfg.Build,
			&pipeline.Loader{Images: testSet, Batch: preset.batch, Last: pipeline.Keep, Transform: pipeline.NewCIFAREval()})
		if err != nil {
			return err
		}
		fmt.Printf("epoch %d/%d: training %.1f images/s (steps 2..%d), test accuracy %.2f%% (%d images)\n",
			epoch+1, preset.epochs, epochRate, stepsPerEpoch, 100*acc, testSet.N)
	}
	fmt.Printf("done in %s\n", time.Since(start).Round(time.Second))
	return nil
}

// loadCIFAR returns the first N images in canonical order of each split of
// the chosen CIFAR-10 copy, or synthetic images when asked.
func loadCIFAR(which, archives, dataDir string, preset demoPreset) (trainSet, testSet *datasets.Images, err error) {
	if which == "synthetic" {
		return recipe.Synthetic("cifar10", preset.trainImages, 1), recipe.Synthetic("cifar10", preset.testImages, 2), nil
	}
	copies := map[string]cifar10.Copy{"auto": cifar10.Auto, "official": cifar10.OfficialCopy, "jpeg-mirror": cifar10.MirrorCopy}
	c, ok := copies[which]
	if !ok {
		return nil, nil, fmt.Errorf("%w: unknown -data %q (valid: auto, official, jpeg-mirror, synthetic)", errUsage, which)
	}
	var dirs []string
	if archives != "" {
		dirs = append(dirs, archives)
	}
	train, test, err := cifar10.Load(context.Background(), cifar10.Options{DataDir: dataDir, ArchiveDirs: dirs, Copy: c, Progress: os.Stdout})
	if err != nil {
		return nil, nil, err
	}
	return train.FirstN(preset.trainImages), test.FirstN(preset.testImages), nil
}
