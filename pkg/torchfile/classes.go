package torchfile

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/nlpodyssey/gopickle/pytorch"
)

// findClass resolves the classes and functions a torch.save pickle refers to
// (gopickle resolves collections.OrderedDict itself). Tensors rebuilt another
// way than _rebuild_tensor_v2 (quantized, sparse, ...) and storages of other
// dtypes become placeholders that Read reports by name; any other class
// becomes an opaque object, so that a checkpoint carrying Python objects next
// to its state dict still loads.
func findClass(module, name string) (any, error) {
	switch {
	case module == "torch._utils" && name == "_rebuild_tensor_v2":
		return rebuildTensorV2{}, nil
	case module == "torch._utils" && (name == "_rebuild_parameter" || name == "_rebuild_parameter_with_state"):
		return rebuildParameter{}, nil
	case module == "torch._utils" && strings.HasPrefix(name, "_rebuild_"):
		return unsupportedRebuild(module + "." + name), nil
	case module == "torch" && strings.HasSuffix(name, "Storage"):
		if st, ok := storageTypes[name]; ok {
			return st, nil
		}
		return &storageType{name: name}, nil
	}
	return &opaqueClass{module: module, name: name}, nil
}

// rebuildTensorV2 is torch._utils._rebuild_tensor_v2(storage, offset, size,
// stride, requires_grad, backward_hooks[, metadata]): gopickle's, which takes
// exactly the first six.
type rebuildTensorV2 struct{}

func (rebuildTensorV2) Call(args ...any) (any, error) {
	if len(args) == 7 {
		args = args[:6]
	}
	return (&pytorch.RebuildTensorV2{}).Call(args...)
}

// rebuildParameter is torch._utils._rebuild_parameter(data, requires_grad,
// backward_hooks, ...): an nn.Parameter is its data tensor here.
type rebuildParameter struct{}

func (rebuildParameter) Call(args ...any) (any, error) {
	if len(args) == 0 {
		return nil, errors.New("_rebuild_parameter without arguments")
	}
	return args[0], nil
}

// unsupportedRebuild is a torch._utils._rebuild_* function for tensors this
// package cannot convert.
type unsupportedRebuild string

func (r unsupportedRebuild) Call(...any) (any, error) {
	return &unsupportedTensor{rebuild: string(r)}, nil
}

// unsupportedTensor stands for a tensor built by an unsupportedRebuild.
type unsupportedTensor struct{ rebuild string }

// unsupportedStorage is a storage of a dtype this package cannot convert (in
// the zip format, where its record is simply not read); its tensors are
// reported by name.
type unsupportedStorage struct{ class string }

func (s *unsupportedStorage) SetFromFile(io.Reader) error { return s.err() }

func (s *unsupportedStorage) SetFromFileWithSize(io.Reader, int) error { return s.err() }

func (s *unsupportedStorage) err() error {
	return fmt.Errorf("unsupported dtype: storage torch.%s", s.class)
}

// opaqueClass is any other pickled class or function; calling or
// instantiating it gives an opaque object.
type opaqueClass struct{ module, name string }

func (c *opaqueClass) Call(...any) (any, error) { return &opaque{class: c}, nil }

func (c *opaqueClass) PyNew(...any) (any, error) { return &opaque{class: c}, nil }

// opaque is an object of an opaqueClass; its state is dropped.
type opaque struct{ class *opaqueClass }

func (*opaque) PySetState(any) error { return nil }

func (*opaque) PyDictSet(any, any) error { return nil }

func (*opaque) PySetAttr(string, any) error { return nil }
