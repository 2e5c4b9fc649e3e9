// Command gen writes ../../ops_gen.go (run by `go generate` in pkg/backend/engine).
package main

import (
	"log"
	"os"

	"github.com/mlsysrep/mlsysrep/pkg/backend/engine/internal/opsgen"
)

func main() {
	src, err := opsgen.Generate()
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile("ops_gen.go", src, 0o644); err != nil {
		log.Fatal(err)
	}
}
