package quant

import "github.com/gomlx/gomlx/ml/model"

// Scope hyperparameters read by the layers (set them with scope.SetParam, or
// override per layer with the builders' methods).
const (
	// ParamWeightBits is the default bit width of weight quantizers (int; 32 = off).
	ParamWeightBits = "quant_weight_bits"
	// ParamActivationBits is the default bit width of activation quantizers.
	ParamActivationBits = "quant_activation_bits"
	// ParamGradientBits is the default bit width of DoReFa gradient quantizers.
	ParamGradientBits = "quant_gradient_bits"
	// ParamPACTAlphaInit is the initial value of every PACT alpha (default 10).
	ParamPACTAlphaInit = "pact_alpha_init"
	// ParamPACTLambda is lambda of the PACT regularizer lambda*sum(alpha^2) (default 2e-4).
	ParamPACTLambda = "pact_lambda"
	// ParamPTQMode is the mode of PTQ quantizers: PTQOff, PTQCalibrate or PTQFrozen (string).
	ParamPTQMode = "ptq_mode"
)

// Defaults of the reference experiments (PROTOCOL section 4).
const (
	DefaultPACTAlphaInit = 10.0
	DefaultPACTLambda    = 2e-4
)

// bitsOr returns the builder's bits if set, else the scope's param, else 32.
func bitsOr(scope *model.Scope, bits int, param string) int {
	if bits != 0 {
		return bits
	}
	return model.GetParamOr(scope, param, FullPrecision)
}
