package torchfile

import (
	"fmt"
	"maps"
	"math/big"
	"slices"
	"strings"

	"github.com/nlpodyssey/gopickle/pytorch"
	"github.com/nlpodyssey/gopickle/types"
)

// Tensor is one named tensor of a state dict, in PyTorch's layout (row-major, C order).
type Tensor struct {
	DType string    // the dtype in the file: "float32", "float16", "bfloat16", "float64", "int64", "int32", ...
	Shape []int     // the dimensions; empty (not nil) for a scalar
	Data  []float32 // every value converted to float32 (integers too)
}

// StateDict is a model's tensors by PyTorch name.
type StateDict map[string]Tensor

// Names returns the names sorted.
func (sd StateDict) Names() []string {
	return slices.Sorted(maps.Keys(sd))
}

// wrapperKeys are the checkpoint keys that hold a state dict, in the order
// they are tried.
var wrapperKeys = []string{"net", "state_dict", "model"}

// stateDictOf finds the state dict in an unpickled object: the object itself
// when it is a dict with tensors, or the dict under one of wrapperKeys.
// where says, for errors, under which keys obj was found.
func stateDictOf(obj any, where string, depth int) (StateDict, error) {
	entries, ok := dictEntries(obj)
	if !ok {
		hint := ""
		if _, isObject := obj.(*opaque); isObject {
			hint = " (a pickled object, such as a whole nn.Module: save its state_dict() instead)"
		}
		return nil, fmt.Errorf("%sfound %s, not a dict of tensors%s", where, describe(obj), hint)
	}
	if depth < 4 {
		for _, key := range wrapperKeys {
			for _, e := range entries {
				if e.key != key {
					continue
				}
				if _, isDict := dictEntries(e.value); isDict {
					return stateDictOf(e.value, fmt.Sprintf("%sunder %q: ", where, key), depth+1)
				}
			}
		}
	}
	sd := make(StateDict)
	for _, e := range entries {
		var t *pytorch.Tensor
		switch v := e.value.(type) {
		case *pytorch.Tensor:
			t = v
		case *unsupportedTensor:
			return nil, fmt.Errorf("%stensor %v: unsupported tensor kind %s", where, formatKey(e.key), v.rebuild)
		default:
			continue // not a tensor: skipped
		}
		name, ok := e.key.(string)
		if !ok {
			return nil, fmt.Errorf("%sa tensor under the key %s, which is not a string", where, formatKey(e.key))
		}
		tensor, err := fromTorch(t)
		if err != nil {
			return nil, fmt.Errorf("%stensor %q: %w", where, name, err)
		}
		sd[name] = tensor
	}
	if len(sd) == 0 {
		return nil, fmt.Errorf("%sfound %s, no tensors", where, describe(obj))
	}
	return sd, nil
}

// stripPrefix removes prefix from every name when every name has it.
func stripPrefix(sd StateDict, prefix string) {
	if len(sd) == 0 {
		return
	}
	for name := range sd {
		if !strings.HasPrefix(name, prefix) {
			return
		}
	}
	stripped := make(StateDict, len(sd))
	for name, t := range sd {
		stripped[strings.TrimPrefix(name, prefix)] = t
	}
	clear(sd)
	maps.Copy(sd, stripped)
}

type dictEntry struct{ key, value any }

// dictEntries returns the entries of a Python dict or OrderedDict in their
// order, and false for anything else.
func dictEntries(obj any) ([]dictEntry, bool) {
	switch d := obj.(type) {
	case *types.Dict:
		entries := make([]dictEntry, len(*d))
		for i, e := range *d {
			entries[i] = dictEntry{e.Key, e.Value}
		}
		return entries, true
	case *types.OrderedDict:
		entries := make([]dictEntry, 0, d.Len())
		for el := d.List.Front(); el != nil; el = el.Next() {
			e := el.Value.(*types.OrderedDictEntry)
			entries = append(entries, dictEntry{e.Key, e.Value})
		}
		return entries, true
	}
	return nil, false
}

// describe says in a few words what an unpickled value is, for errors.
func describe(obj any) string {
	switch v := obj.(type) {
	case nil:
		return "None"
	case *types.Dict, *types.OrderedDict:
		entries, _ := dictEntries(v)
		what, empty := "a dict", "an empty dict"
		if _, ordered := v.(*types.OrderedDict); ordered {
			what, empty = "an OrderedDict", "an empty OrderedDict"
		}
		if len(entries) == 0 {
			return empty
		}
		const most = 20
		keys := make([]string, 0, min(len(entries), most))
		for _, e := range entries[:min(len(entries), most)] {
			keys = append(keys, fmt.Sprint(e.key))
		}
		more := ""
		if len(entries) > most {
			more = fmt.Sprintf(" ... (%d keys in all)", len(entries))
		}
		return fmt.Sprintf("%s with keys [%s%s]", what, strings.Join(keys, " "), more)
	case *pytorch.Tensor:
		return fmt.Sprintf("a tensor of shape %v", v.Size)
	case *types.List:
		return fmt.Sprintf("a list of %d items", v.Len())
	case *types.Tuple:
		return fmt.Sprintf("a tuple of %d items", v.Len())
	case string:
		return fmt.Sprintf("the string %q", v)
	case int, float64, bool, *big.Int:
		return fmt.Sprintf("the number %v", v)
	case *opaque:
		return fmt.Sprintf("a %s.%s object", v.class.module, v.class.name)
	case *types.GenericObject:
		return fmt.Sprintf("a %s.%s object", v.Class.Module, v.Class.Name)
	}
	return fmt.Sprintf("a value of Go type %T", obj)
}

// formatKey formats a dict key for errors: strings quoted, others as they print.
func formatKey(k any) string {
	if s, ok := k.(string); ok {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprint(k)
}
