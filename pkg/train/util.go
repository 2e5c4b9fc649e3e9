package train

import "github.com/gomlx/gomlx/core/tensors"

func tensorsScalar(v float64) *tensors.Tensor { return tensors.FromScalar(float32(v)) }
