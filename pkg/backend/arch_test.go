package backend

import "runtime"

func runtimeIsAMD64() bool { return runtime.GOARCH == "amd64" }
