//go:build !unix

package report

// Lock is a no-op where flock(2) does not exist: tasks sharing a results
// folder may then train one cell twice, and the atomic record writes keep
// one whole record (see the Unix Lock).
func Lock(dir string, k Key, onWait func()) (release func(), err error) {
	return func() {}, nil
}
