package cifar10

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"strconv"
)

func fmtSscanf(h string, start *int64) (int, error) { return fmt.Sscanf(h, "bytes=%d-", start) }

func strconvI(n int) string { return strconv.Itoa(n) }

// gzipped compresses data as a .tar.gz holds its tar.
func gzipped(data []byte) []byte {
	var buf bytes.Buffer
	gz, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	gz.Write(data)
	gz.Close()
	return buf.Bytes()
}
