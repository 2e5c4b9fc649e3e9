package cifar10

import (
	"fmt"
	"strconv"
)

func fmtSscanf(h string, start *int64) (int, error) { return fmt.Sscanf(h, "bytes=%d-", start) }

func strconvI(n int) string { return strconv.Itoa(n) }
